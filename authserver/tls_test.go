package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRunServesHTTPS: with --tls-cert/--tls-key from `authserver dev-cert` the server speaks HTTPS with HTTP/2,
// its default issuer is https, and healthcheck --tls-cert probes it.
func TestRunServesHTTPS(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	if err := run(ctx, []string{"authserver", "dev-cert", "--out", dir}, envFrom(nil), io.Discard, io.Discard); err != nil {
		t.Fatalf("dev-cert: %v", err)
	}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	addr, _, done := startRun(t, ctx, []string{"--addr", "127.0.0.1:0", "--key-file", filepath.Join(dir, "key.jwk"),
		"--tls-cert", certFile, "--tls-key", keyFile})

	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}
	resp, err := client.Get("https://" + addr + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatalf("discovery over HTTPS, trusting only the dev CA: %v", err)
	}
	var disco struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	err = json.NewDecoder(resp.Body).Decode(&disco)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("discovery: %d over %s, %v; want 200 over HTTP/2", resp.StatusCode, resp.Proto, err)
	}
	if disco.Issuer != "https://localhost:44364" || disco.TokenEndpoint != "https://localhost:44364/connect/token" {
		t.Errorf("got issuer %q, token endpoint %q; want the article's https URLs", disco.Issuer, disco.TokenEndpoint)
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP was served on the TLS port")
		}
	}
	if err := run(ctx, []string{"authserver", "healthcheck", "--addr", addr, "--tls-cert", certFile}, envFrom(nil), io.Discard, io.Discard); err != nil {
		t.Errorf("healthcheck --tls-cert: %v", err)
	}
	if err := run(ctx, []string{"authserver", "healthcheck", "--addr", addr}, envFrom(nil), io.Discard, io.Discard); err == nil {
		t.Error("a plain healthcheck of a TLS server succeeded")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

func TestRunRefusesABrokenTLSPair(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.crt")
	err := run(context.Background(), []string{"authserver", "--addr", "127.0.0.1:0", "--key-file", filepath.Join(dir, "k.jwk"),
		"--tls-cert", missing, "--tls-key", missing}, envFrom(nil), io.Discard, io.Discard)
	if err == nil {
		t.Fatal("run started with a missing certificate")
	}
}

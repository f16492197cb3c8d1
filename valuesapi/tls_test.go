package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenbearer/valuesapi/bearer/bearertest"
)

// started is a run of the real program in the background.
type started struct {
	addr   string
	logs   *syncBuffer
	done   chan error
	cancel context.CancelFunc
}

// startRun runs the program with args and env until the test ends, and waits for its listening line.
func startRun(t *testing.T, args []string, env map[string]string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{logs: &syncBuffer{}, done: make(chan error, 1), cancel: cancel}
	go func() {
		s.done <- run(ctx, append([]string{"valuesapi"}, args...), func(k string) string { return env[k] }, io.Discard, s.logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			t.Error("run did not return after cancel")
		}
	})
	s.addr = listeningAddr(t, s.logs)
	return s
}

// stop ends the run the way SIGTERM does and fails unless it returns nil.
func (s *started) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("run after cancel: got %v, want nil", err)
		}
		s.done <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// readyz polls base/readyz with client until it answers 200 (ready) or the bound passes (not ready), and returns
// the last status and reason.
func readyz(t *testing.T, client *http.Client, base string, bound time.Duration) (int, string) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			var body struct{ Reason string }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || time.Now().After(deadline) {
				return resp.StatusCode, body.Reason
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("GET %s/readyz: %v", base, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// getValues calls GET /api/values with token and returns the response with its body read.
func getValues(t *testing.T, client *http.Client, base, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/values", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// tlsClient trusts only ca and presents certs (none, or one client certificate).
func tlsClient(ca *bearertest.CA, certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ca.Pool(), Certificates: certs},
		ForceAttemptHTTP2: true,
	}}
}

// TestRunServesTLS: with --tls-cert/--tls-key the program serves HTTPS with HTTP/2 and TLS 1.2 at least, the API
// answers a valid token over it, a token bound to a client certificate needs that certificate (requested, never
// required), and healthcheck --tls-cert probes it.
func TestRunServesTLS(t *testing.T) {
	a := bearertest.NewAuthority(t)
	ca := bearertest.NewCA(t)
	certFile, keyFile := bearertest.WritePair(t, t.TempDir(), "tls", ca.Server(t, "127.0.0.1"))
	s := startRun(t, []string{"--addr", "127.0.0.1:0", "--authority", a.URL, "--tls-cert", certFile, "--tls-key", keyFile}, nil)
	base := "https://" + s.addr
	client := tlsClient(ca)
	if code, reason := readyz(t, client, base, 5*time.Second); code != http.StatusOK {
		t.Fatalf("/readyz over TLS: got %d %q, want 200; logs:\n%s", code, reason, s.logs)
	}

	clientCert, otherCert := ca.Client(t, "ApiClient"), ca.Client(t, "other")
	withCert := tlsClient(ca, clientCert)
	bound := a.BoundToken(t, testAudience, testScope, clientCert)
	refusal := invalidToken("token is bound to a certificate the request did not present")
	tests := []struct {
		name          string
		client        *http.Client
		token         string
		wantCode      int
		wantChallenge string
	}{
		{"valid token, no client certificate", client, a.Token(t, testAudience, testScope), 200, ""},
		{"valid token, a client certificate", withCert, a.Token(t, testAudience, testScope), 200, ""},
		{"bound token, its certificate", withCert, bound, 200, ""},
		{"bound token, no certificate", client, bound, 401, refusal},
		{"bound token, another certificate", tlsClient(ca, otherCert), bound, 401, refusal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := getValues(t, tt.client, base, tt.token)
			if resp.ProtoMajor != 2 {
				t.Errorf("got %s, want HTTP/2", resp.Proto)
			}
			if resp.StatusCode != tt.wantCode || resp.Header.Get("WWW-Authenticate") != tt.wantChallenge {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tt.wantCode, tt.wantChallenge)
			}
			if tt.wantCode == 200 && body != `["value1","value2"]` {
				t.Errorf("got body %s, want [\"value1\",\"value2\"]", body)
			}
		})
	}

	t.Run("TLS 1.1 refused", func(t *testing.T) {
		old := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: ca.Pool(), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}}}
		if resp, err := old.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			t.Errorf("got %d over TLS 1.1, want a failed handshake", resp.StatusCode)
		}
	})
	t.Run("no plain HTTP on the TLS port", func(t *testing.T) {
		if resp, err := http.Get("http://" + s.addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Error("plain HTTP was served on the TLS port")
			}
		}
	})
	t.Run("healthcheck follows --tls-cert", func(t *testing.T) {
		for _, tt := range []struct {
			name    string
			args    []string
			env     map[string]string
			wantErr bool
		}{
			{"--tls-cert", []string{"--addr", s.addr, "--tls-cert", certFile}, nil, false},
			{"VALUESAPI_TLS_CERT", nil, map[string]string{"VALUESAPI_ADDR": s.addr, "VALUESAPI_TLS_CERT": certFile}, false},
			{"plain HTTP against TLS", []string{"--addr", s.addr}, nil, true},
		} {
			err := run(context.Background(), append([]string{"valuesapi", "healthcheck"}, tt.args...), func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Errorf("%s: got %v, want error %v", tt.name, err, tt.wantErr)
			}
		}
	})
	s.stop(t)
	checkEveryLineNamesService(t, s.logs.String())
	if !strings.Contains(s.logs.String(), "tls=true") {
		t.Errorf("the listening line does not say TLS is on:\n%s", s.logs)
	}
}

// TestRunAuthorityCA: an https authority whose certificate comes from a private CA is trusted with --authority-ca
// (the API then accepts its tokens end to end), and without it the fetch fails with a certificate error that
// /readyz shows.
func TestRunAuthorityCA(t *testing.T) {
	ca := bearertest.NewCA(t)
	a := bearertest.NewTLSAuthority(t, ca.Server(t, "127.0.0.1"))
	caFile := ca.WritePEM(t, t.TempDir())
	// Another CA in the same bundle must not get in the way.
	bundle := filepath.Join(t.TempDir(), "bundle.crt")
	if err := os.WriteFile(bundle, append(bearertest.NewCA(t).PEM(), ca.PEM()...), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantReady  bool
		wantReason string
	}{
		{"--authority-ca", []string{"--authority-ca", caFile}, nil, true, ""},
		{"VALUESAPI_AUTHORITY_CA", nil, map[string]string{"VALUESAPI_AUTHORITY_CA": caFile}, true, ""},
		{"a bundle holding the CA", []string{"--authority-ca", bundle}, nil, true, ""},
		{"system roots only", nil, nil, false, "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startRun(t, append([]string{"--addr", "127.0.0.1:0", "--authority", a.URL, "--jwks-timeout", "1s"}, tt.args...), tt.env)
			base := "http://" + s.addr
			bound := 5 * time.Second
			if !tt.wantReady {
				bound = 500 * time.Millisecond // the first attempt fails at the handshake, at once
			}
			code, reason := readyz(t, http.DefaultClient, base, bound)
			if tt.wantReady {
				if code != http.StatusOK {
					t.Fatalf("/readyz: got %d %q, want 200", code, reason)
				}
				if resp, body := getValues(t, http.DefaultClient, base, a.Token(t, testAudience, testScope)); resp.StatusCode != 200 {
					t.Errorf("GET /api/values: got %d %s, want 200", resp.StatusCode, body)
				}
				return
			}
			if code != http.StatusServiceUnavailable || !strings.Contains(reason, tt.wantReason) || !strings.Contains(reason, a.URL) {
				t.Errorf("/readyz: got %d %q, want 503 naming %s and %q", code, reason, a.URL, tt.wantReason)
			}
		})
	}
}

// TestRunRefusesBadTLSFiles: a missing pair or an --authority-ca that is not a bundle of certificates stops the
// service at start, where the mistake is easiest to see.
func TestRunRefusesBadTLSFiles(t *testing.T) {
	dir := t.TempDir()
	ca := bearertest.NewCA(t)
	certFile, keyFile := bearertest.WritePair(t, dir, "tls", ca.Server(t, "127.0.0.1"))
	empty := filepath.Join(dir, "empty.pem")
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(empty, []byte("no PEM here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"missing certificate", []string{"--tls-cert", filepath.Join(dir, "none.crt"), "--tls-key", keyFile}, "TLS certificate"},
		{"key of another certificate", []string{"--tls-cert", certFile, "--tls-key", func() string {
			_, k := bearertest.WritePair(t, dir, "other", ca.Server(t, "127.0.0.1"))
			return k
		}()}, "TLS pair"},
		{"missing CA file", []string{"--authority-ca", filepath.Join(dir, "none.crt")}, "--authority-ca"},
		{"CA file without PEM", []string{"--authority-ca", empty}, "no PEM certificates"},
		{"a key as CA", []string{"--authority-ca", keyFile}, "want CERTIFICATE"},
		{"a broken certificate as CA", []string{"--authority-ca", garbage}, "certificate 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // if run got as far as serving, it would stop at once and return nil
			err := run(ctx, append([]string{"valuesapi", "--addr", "127.0.0.1:0", "--authority", "http://127.0.0.1:1"}, tt.args...),
				func(string) string { return "" }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestRunInsecureAuthority: an http authority on the network is refused at start with the flag that allows it
// named, unless it is on loopback or that flag (or its variable) is given; https is always allowed.
func TestRunInsecureAuthority(t *testing.T) {
	for _, tt := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr bool
	}{
		{"http on the network", []string{"--authority", "http://authserver:44364"}, nil, true},
		{"http on the network from env", nil, map[string]string{"VALUESAPI_AUTHORITY": "http://10.0.0.1:44364"}, true},
		{"http on loopback", []string{"--authority", "http://127.0.0.1:1"}, nil, false},
		{"http on localhost", []string{"--authority", "http://localhost:1"}, nil, false},
		{"http on ::1", []string{"--authority", "http://[::1]:1"}, nil, false},
		{"--allow-insecure-authority", []string{"--authority", "http://authserver:44364", "--allow-insecure-authority"}, nil, false},
		{"VALUESAPI_ALLOW_INSECURE_AUTHORITY", nil, map[string]string{"VALUESAPI_AUTHORITY": "http://authserver:44364", "VALUESAPI_ALLOW_INSECURE_AUTHORITY": "true"}, false},
		{"https on the network", []string{"--authority", "https://authserver:44364"}, nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a run that gets as far as serving stops at once and returns nil
			var logs syncBuffer
			err := run(ctx, append([]string{"valuesapi", "--addr", "127.0.0.1:0"}, tt.args...), func(k string) string { return tt.env[k] }, io.Discard, &logs)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("got nil, want the authority refused")
			}
			for _, want := range []string{"is plain http to a host that is not loopback", "--allow-insecure-authority", "VALUESAPI_ALLOW_INSECURE_AUTHORITY=true", "https"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

// TestInsecureAuthorityIsLogged: an operator reading the logs sees that the keys travel without TLS.
func TestInsecureAuthorityIsLogged(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var logs syncBuffer
	if err := run(ctx, []string{"valuesapi", "--addr", "127.0.0.1:0", "--authority", "http://authserver:44364", "--allow-insecure-authority"},
		func(string) string { return "" }, io.Discard, &logs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "over plain http") {
		t.Errorf("no warning about plain http keys:\n%s", logs.String())
	}
}

// TestRunReloadsTLSPair: a renewed pair written over the files is served without a restart, and a broken one
// (half written, say) leaves the last good pair serving.
func TestRunReloadsTLSPair(t *testing.T) {
	a := bearertest.NewAuthority(t)
	ca := bearertest.NewCA(t)
	dir := t.TempDir()
	first, renewed := ca.Server(t, "127.0.0.1"), ca.Server(t, "127.0.0.1")
	certFile, keyFile := bearertest.WritePair(t, dir, "tls", first)
	s := startRun(t, []string{"--addr", "127.0.0.1:0", "--authority", a.URL, "--tls-cert", certFile, "--tls-key", keyFile}, nil)
	served := func() string {
		conn, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: ca.Pool()})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	if got, want := served(), first.Leaf.SerialNumber.String(); got != want {
		t.Fatalf("got serial %s, want the first pair's %s", got, want)
	}
	bearertest.WritePair(t, dir, "tls", renewed)
	want := renewed.Leaf.SerialNumber.String()
	for deadline := time.Now().Add(5 * time.Second); served() != want; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the renewed pair was never served")
		}
	}
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // past httpserver's check interval
	if got := served(); got != want {
		t.Errorf("after a broken write: got serial %s, want the renewed pair's %s still", got, want)
	}
}

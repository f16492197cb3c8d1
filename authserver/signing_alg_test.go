package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunSigningAlg: with each --signing-alg, a first start creates a key
// for it and the token endpoint signs with it; a later start with another
// --signing-alg is refused with what to do, and the key file is kept.
func TestRunSigningAlg(t *testing.T) {
	tests := []struct {
		alg, kty, other string
	}{
		{"RS256", "RSA", "ES256"},
		{"PS256", "RSA", "RS256"},
		{"ES256", "EC", "EdDSA"},
		{"EdDSA", "OKP", "PS256"},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			keyFile := filepath.Join(t.TempDir(), "tempkey.jwk")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			addr, logs, done := startRun(t, ctx, []string{"--addr", "127.0.0.1:0", "--key-file", keyFile, "--signing-alg", tt.alg})
			base := "http://" + addr
			waitHealthy(t, base)
			for _, want := range []string{"signing_alg=" + tt.alg, "alg=" + tt.alg, "created=true"} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("startup logs lack %q:\n%s", want, logs)
				}
			}

			resp, err := http.PostForm(base+"/connect/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"ApiClient"}, "client_secret": {"secret"}})
			if err != nil {
				t.Fatal(err)
			}
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			json.NewDecoder(resp.Body).Decode(&tok)
			resp.Body.Close()
			rawHeader, _, _ := strings.Cut(tok.AccessToken, ".")
			headerJSON, _ := base64.RawURLEncoding.DecodeString(rawHeader)
			var header map[string]any
			if err := json.Unmarshal(headerJSON, &header); err != nil || header["alg"] != tt.alg {
				t.Errorf("got token header %s (%v), want alg %s", headerJSON, err, tt.alg)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("run returned %v", err)
			}

			before, _ := os.ReadFile(keyFile)
			var file map[string]any
			if err := json.Unmarshal(before, &file); err != nil || file["alg"] != tt.alg || file["kty"] != tt.kty {
				t.Errorf("got key file alg %v kty %v (%v), want %s %s", file["alg"], file["kty"], err, tt.alg, tt.kty)
			}
			// Bounded, so that a start that is not refused ends the test instead of hanging it.
			refusedCtx, cancelRefused := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancelRefused()
			err = run(refusedCtx, []string{"authserver", "--addr", "127.0.0.1:0", "--key-file", keyFile, "--signing-alg", tt.other}, envFrom(nil), io.Discard, io.Discard)
			if err == nil {
				t.Fatalf("a start with --signing-alg %s on a %s key file succeeded", tt.other, tt.alg)
			}
			for _, want := range []string{
				"loading signing key", keyFile + " holds a key for " + tt.alg + ", not " + tt.other,
				"authserver keys import --now " + keyFile, "--key-dir", "delete or move", "--signing-alg " + tt.other, "--signing-alg " + tt.alg,
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got error %q, want it to contain %q", err, want)
				}
			}
			if after, _ := os.ReadFile(keyFile); string(after) != string(before) {
				t.Error("the key file was changed by the refused start")
			}
		})
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRunFailsWhenTheAPIIsOpen: an API that answers without a token is not the article's, so run returns an
// error (and main exits non-zero).
func TestRunFailsWhenTheAPIIsOpen(t *testing.T) {
	open := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`["value1","value2"]`))
	}))
	defer open.Close()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"walkthrough", "--api", open.URL, "--authority", open.URL}, noEnv, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "step 1") {
		t.Fatalf("got %v, want a step 1 failure", err)
	}
	if !strings.Contains(out.String(), "FAILED") {
		t.Errorf("narration does not say the step failed:\n%s", out.String())
	}
}

// TestRunSuggestsStartingTheServices: the usual first mistake is running the walkthrough before the services, and
// the error should say what to do rather than only "connection refused".
func TestRunSuggestsStartingTheServices(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now: connecting is refused at once
	err = run(context.Background(), []string{"walkthrough", "--api", closed, "--authority", closed}, noEnv, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("got nil, want an error")
	}
	for _, want := range []string{"step 1", ln.Addr().String(), "nothing is listening", "`make run` in another terminal", "--wait 30s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to contain %q", err, want)
		}
	}
}

func TestFlagsAndEnvironment(t *testing.T) {
	defaults := config{
		authority: "http://localhost:44364", api: "http://localhost:44324", clientID: "ApiClient", clientSecret: "secret",
		scope: "auth.web.api", timeout: 10 * time.Second,
	}
	with := func(f func(*config)) config { c := defaults; f(&c); return c }
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr string
	}{
		{name: "defaults", want: defaults},
		{name: "every flag has a variable", env: map[string]string{
			"WALKTHROUGH_AUTHORITY": "http://as:1", "WALKTHROUGH_API": "http://api:2", "WALKTHROUGH_CLIENT_ID": "C",
			"WALKTHROUGH_CLIENT_SECRET": "S", "WALKTHROUGH_SCOPE": "s", "WALKTHROUGH_WAIT": "30s", "WALKTHROUGH_TIMEOUT": "3s",
			"WALKTHROUGH_CA": "ca.crt",
		}, want: config{authority: "http://as:1", api: "http://api:2", clientID: "C", clientSecret: "S", scope: "s",
			wait: 30 * time.Second, timeout: 3 * time.Second, ca: "ca.crt"}},
		{name: "--ca", args: []string{"--ca", "bin/dev-certs/ca.crt"}, env: map[string]string{"WALKTHROUGH_CA": "other.crt"},
			want: with(func(c *config) { c.ca = "bin/dev-certs/ca.crt" })},
		{name: "flag wins over env", args: []string{"--scope", "from.flag", "--wait", "1s"},
			env:  map[string]string{"WALKTHROUGH_SCOPE": "from.env", "WALKTHROUGH_WAIT": "9s", "WALKTHROUGH_CLIENT_ID": "FromEnv"},
			want: with(func(c *config) { c.scope, c.wait, c.clientID = "from.flag", time.Second, "FromEnv" })},
		{name: "empty --scope asks for every scope", args: []string{"--scope", ""}, want: with(func(c *config) { c.scope = "" })},
		{name: "bad env duration names the variable", env: map[string]string{"WALKTHROUGH_WAIT": "soon"}, wantErr: "WALKTHROUGH_WAIT"},
		{name: "zero timeout refused", args: []string{"--timeout", "0"}, wantErr: "--timeout"},
		{name: "negative wait refused", env: map[string]string{"WALKTHROUGH_WAIT": "-1s"}, wantErr: "--wait"},
		{name: "stray argument refused", args: []string{"stray"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(append([]string{"walkthrough"}, tt.args...), func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"/some/build/dir/walkthrough", "--help"}, noEnv, io.Discard, &out); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	want := []string{"Usage: walkthrough [flags]\n"}
	for _, f := range []struct{ flag, env string }{
		{"authority", "WALKTHROUGH_AUTHORITY"}, {"api", "WALKTHROUGH_API"}, {"client-id", "WALKTHROUGH_CLIENT_ID"},
		{"client-secret", "WALKTHROUGH_CLIENT_SECRET"}, {"scope", "WALKTHROUGH_SCOPE"}, {"wait", "WALKTHROUGH_WAIT"},
		{"timeout", "WALKTHROUGH_TIMEOUT"}, {"ca", "WALKTHROUGH_CA"},
	} {
		// A flag without a default (--ca) ends its line at the variable.
		want = append(want, "\n  --"+f.flag+" ", "(env "+f.env)
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("help lacks %q:\n%s", w, out.String())
		}
	}
}

// TestCA: --ca adds a CA to the client's roots, so the walkthrough reaches services whose certificate it signed
// (over HTTP/2, as a browser would), the --wait readiness poll included; without it the TLS handshake fails and the
// error says why.
func TestCA(t *testing.T) {
	var protos sync.Map
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos.Store(r.Proto, true)
		// An API open to anyone: step 1 fails, which proves the request got through.
		_, _ = w.Write([]byte(`["value1","value2"]`))
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes refused below are the point
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		refuse  string
	}{
		{"--ca", []string{"--ca", caFile, "--wait", "5s"}, nil, "step 1", "certificate"},
		{"WALKTHROUGH_CA", nil, map[string]string{"WALKTHROUGH_CA": caFile}, "step 1", "certificate"},
		{"without it", nil, nil, "certificate signed by unknown authority", ""},
		{"without it, waiting", []string{"--wait", "300ms"}, nil, "certificate signed by unknown authority", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), append([]string{"walkthrough", "--api", srv.URL, "--authority", srv.URL}, tt.args...),
				func(k string) string { return tt.env[k] }, &out, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q\n%s", err, tt.wantErr, out.String())
			}
			if tt.refuse != "" && strings.Contains(err.Error(), tt.refuse) {
				t.Errorf("got %q, want no %q in it: the CA should be trusted", err, tt.refuse)
			}
		})
	}
	if _, ok := protos.Load("HTTP/2.0"); !ok {
		t.Error("no request came over HTTP/2")
	}
}

func TestBadCA(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ file, wantErr string }{
		{filepath.Join(dir, "none.crt"), "reading --ca"},
		{notPEM, "no PEM certificates"},
	} {
		err := run(context.Background(), []string{"walkthrough", "--ca", tt.file}, noEnv, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("--ca %s: got %v, want an error containing %q", tt.file, err, tt.wantErr)
		}
	}
}

func noEnv(string) string { return "" }

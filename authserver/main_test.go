package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenbearer/authserver/internal/secret"
)

var listeningRE = regexp.MustCompile(`msg=listening .*\baddr=(\S+)`)

// startRun runs the real run in the background and returns the bound
// address once it is logged, and a channel with run's result.
func startRun(t *testing.T, ctx context.Context, args []string) (addr string, logs *syncBuffer, done <-chan error) {
	t.Helper()
	return startRunEnv(t, ctx, args, nil)
}

// startRunEnv is startRun with environment variables.
func startRunEnv(t *testing.T, ctx context.Context, args []string, env map[string]string) (addr string, logs *syncBuffer, done <-chan error) {
	t.Helper()
	logs = &syncBuffer{}
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, append([]string{"authserver"}, args...), envFrom(env), io.Discard, logs)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningRE.FindStringSubmatch(logs.String()); m != nil {
			return m[1], logs, errc
		}
		select {
		case err := <-errc:
			t.Fatalf("run returned early: %v\n%s", err, logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("server did not log its address:\n%s", logs)
	return "", nil, nil
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s/healthz never answered 200", base)
}

func TestRunServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	keyFile := filepath.Join(t.TempDir(), "key.jwk")
	addr, logs, done := startRun(t, ctx, []string{"--addr", "127.0.0.1:0", "--issuer", "http://issuer.test/", "--key-file", keyFile})
	base := "http://" + addr
	waitHealthy(t, base)

	if info, err := os.Stat(keyFile); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want created with 0600", err, info.Mode())
	}
	for _, want := range []string{"level=WARN", "hash-secret", "--config", "created=true", `issuer=http://issuer.test `} {
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
		Scope       string `json:"scope"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != 200 || tok.AccessToken == "" || tok.Scope != "auth.web.api" {
		t.Fatalf("token request: %d %+v", resp.StatusCode, tok)
	}
	// The issuer comes from the flag, never from the Host header.
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok.AccessToken, ".")[1])
	if !strings.Contains(string(payload), `"iss":"http://issuer.test"`) {
		t.Errorf("token payload %s lacks the configured issuer", payload)
	}

	if err := run(ctx, []string{"authserver", "healthcheck", "--addr", addr}, envFrom(nil), io.Discard, io.Discard); err != nil {
		t.Errorf("healthcheck against the running server: %v", err)
	}
	// A refused client, so its log lines are among those checked below.
	resp, err = http.PostForm(base+"/connect/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"ApiClient"}, "client_secret": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong secret: got status %d, want 401", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if !strings.Contains(logs.String(), "msg=stopped") {
		t.Errorf("no stopped log:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "status=401") {
		t.Errorf("the refused request was not logged:\n%s", logs)
	}
	// Logs of both services often land in one place; every line says whose.
	service := regexp.MustCompile(`(^| )service=authserver( |$)`)
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		if !service.MatchString(line) {
			t.Errorf("log line lacks service=authserver: %s", line)
		}
	}

	// A restart reuses the key file.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	_, logs2, done2 := startRun(t, ctx2, []string{"--addr", "127.0.0.1:0", "--key-file", keyFile})
	kidRE := regexp.MustCompile(`kid=(\S+)`)
	first, second := kidRE.FindStringSubmatch(logs.String()), kidRE.FindStringSubmatch(logs2.String())
	if first == nil || second == nil || first[1] != second[1] || !strings.Contains(logs2.String(), "created=false") {
		t.Errorf("restart did not reuse the key: %v vs %v", first, second)
	}
	cancel2()
	if err := <-done2; err != nil {
		t.Errorf("second run returned %v", err)
	}
}

// TestShutdownLetsInFlightRequestsFinish cancels the context while a token
// request is still sending its body and expects it to complete.
func TestShutdownLetsInFlightRequestsFinish(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, _, done := startRun(t, ctx, []string{"--addr", "127.0.0.1:0", "--key-file", filepath.Join(t.TempDir(), "key.jwk")})
	waitHealthy(t, "http://"+addr)

	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/connect/token", pr)
	req.Header.Set("Content-Type", formType)
	req.SetBasicAuth("ApiClient", "secret")
	type result struct {
		status int
		err    error
	}
	resc := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			resc <- result{err: err}
			return
		}
		resp.Body.Close()
		resc <- result{status: resp.StatusCode}
	}()
	pw.Write([]byte("grant_type=client_"))
	time.Sleep(200 * time.Millisecond) // let the server start on the request
	cancel()
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("run returned %v while a request was in flight", err)
	default:
	}
	pw.Write([]byte("credentials"))
	pw.Close()

	if r := <-resc; r.err != nil || r.status != 200 {
		t.Fatalf("in-flight request: status %d, err %v; want 200", r.status, r.err)
	}
	if err := <-done; err != nil {
		t.Fatalf("run returned %v, want nil", err)
	}
}

func TestRunStartupErrors(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.jwk")
	os.WriteFile(corrupt, []byte("{not a key"), 0o600)
	badConfig := filepath.Join(dir, "clients.yaml")
	os.WriteFile(badConfig, []byte("apiResources: []\nclients: []\nunknown: 1\n"), 0o600)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"corrupt key file", []string{"--addr", "127.0.0.1:0", "--key-file", corrupt}, "loading signing key"},
		{"invalid config file", []string{"--addr", "127.0.0.1:0", "--config", badConfig, "--key-file", filepath.Join(dir, "k.jwk")}, "unknown"},
		{"missing config file", []string{"--addr", "127.0.0.1:0", "--config", filepath.Join(dir, "nope.yaml")}, "reading config"},
		{"address in use", []string{"--addr", busy.Addr().String(), "--key-file", filepath.Join(dir, "k2.jwk")}, "listening"},
		{"bad flag", []string{"--token-lifetime", "x"}, "reading configuration"},
		{"unknown command", []string{"serv"}, `unknown command "serv"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), append([]string{"authserver"}, tt.args...), envFrom(nil), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("run error = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
	if data, _ := os.ReadFile(corrupt); string(data) != "{not a key" {
		t.Error("corrupt key file was overwritten")
	}
}

// TestRunHelp: each command prints its own help, listing the flags it
// reads and no others, and only the top-level help lists the commands.
func TestRunHelp(t *testing.T) {
	allCommands := []string{"serve", "hash-secret", "healthcheck", "dev-cert", "help"}
	serverFlags := []string{"addr", "issuer", "config", "key-file", "token-lifetime", "shutdown-timeout",
		"auth-failure-rate-per-client", "auth-failure-burst-per-client", "auth-failure-rate-per-addr", "auth-failure-burst-per-addr"}
	// Lines of the envflag layout: "  name  summary" and "  --name kind".
	listsCommand := func(help, name string) bool {
		return regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(name) + `  +\S`).MatchString(help)
	}
	listsFlag := func(help, name string) bool {
		return regexp.MustCompile(`(?m)^  --` + regexp.QuoteMeta(name) + `( |$)`).MatchString(help)
	}
	topLevel := []string{"Usage: authserver [command] [flags]", "AUTHSERVER_ISSUER", "AUTHSERVER_AUTH_FAILURE_BURST_PER_ADDR"}
	healthcheckHelp := []string{"Usage: authserver healthcheck", "/readyz", "AUTHSERVER_ADDR", `default ":44364"`}
	hashSecretHelp := []string{"Usage: authserver hash-secret", "clientSecrets", "No flags."}
	devCertHelp := []string{"Usage: authserver dev-cert --out DIR", "ca.crt", "tls.key", "AUTHSERVER_DEV_CERT_OUT", "AUTHSERVER_DEV_CERT_HOSTS", `default "authserver,valuesapi"`}
	tests := []struct {
		name         string
		args         []string
		want         []string // text the help contains
		wantCommands []string // the commands it lists, and no others
		wantFlags    []string // the flags it lists, and no others
	}{
		{"--help", []string{"--help"}, topLevel, allCommands, serverFlags},
		{"-h", []string{"-h"}, topLevel, allCommands, serverFlags},
		{"serve --help", []string{"serve", "--help"}, topLevel, allCommands, serverFlags},
		{"help", []string{"help"}, topLevel, allCommands, serverFlags},
		{"help help", []string{"help", "help"}, topLevel, allCommands, serverFlags},
		{"healthcheck --help", []string{"healthcheck", "--help"}, healthcheckHelp, nil, []string{"addr"}},
		{"healthcheck -h", []string{"healthcheck", "-h"}, healthcheckHelp, nil, []string{"addr"}},
		{"help healthcheck", []string{"help", "healthcheck"}, healthcheckHelp, nil, []string{"addr"}},
		{"hash-secret --help", []string{"hash-secret", "--help"}, hashSecretHelp, nil, nil},
		{"help hash-secret", []string{"help", "hash-secret"}, hashSecretHelp, nil, nil},
		{"dev-cert --help", []string{"dev-cert", "--help"}, devCertHelp, nil, []string{"out", "hosts"}},
		{"help dev-cert", []string{"help", "dev-cert"}, devCertHelp, nil, []string{"out", "hosts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := run(context.Background(), append([]string{"authserver"}, tt.args...), envFrom(nil), &stdout, &stderr); err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			help := stderr.String()
			for _, want := range tt.want {
				if !strings.Contains(help, want) {
					t.Errorf("help lacks %q:\n%s", want, help)
				}
			}
			for _, name := range allCommands {
				if got, want := listsCommand(help, name), slices.Contains(tt.wantCommands, name); got != want {
					t.Errorf("command %s listed: got %v, want %v:\n%s", name, got, want, help)
				}
			}
			for _, name := range append(slices.Clone(serverFlags), "out", "hosts") {
				if got, want := listsFlag(help, name), slices.Contains(tt.wantFlags, name); got != want {
					t.Errorf("flag --%s listed: got %v, want %v:\n%s", name, got, want, help)
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("got stdout %q, want nothing: help goes to stderr", stdout.String())
			}
		})
	}
	if err := run(context.Background(), []string{"authserver", "help", "nope"}, envFrom(nil), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), `unknown command "nope"`) {
		t.Errorf("help nope: got error %v, want unknown command", err)
	}
}

func TestHashSecret(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"authserver", "hash-secret"}, envFrom(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var plain, hash string
	if _, err := fmt.Sscanf(out.String(), "secret: %s\nhash: %s\n", &plain, &hash); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(plain); err != nil || len(raw) != 32 {
		t.Errorf("secret %q is not 32 bytes of base64url", plain)
	}
	h, err := secret.Parse(hash)
	if err != nil {
		t.Fatalf("printed hash does not parse: %v", err)
	}
	if !secret.MatchesAny([]secret.Hash{h}, plain) {
		t.Error("printed hash does not match the printed secret")
	}

	// The printed hash works as a clientSecrets entry.
	cfg := filepath.Join(t.TempDir(), "clients.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("apiResources:\n  - name: api\n    scopes: [api]\nclients:\n  - clientId: mine\n    clientSecrets: [%q]\n    allowedGrantTypes: [client_credentials]\n    allowedScopes: [api]\n", hash)), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, logs, done := startRun(t, ctx, []string{"--addr", "127.0.0.1:0", "--config", cfg, "--key-file", filepath.Join(t.TempDir(), "k.jwk")})
	resp, err := http.PostForm("http://"+addr+"/connect/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"mine"}, "client_secret": {plain}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("token with the generated secret: status %d", resp.StatusCode)
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("demo warning logged with a --config file:\n%s", logs)
	}
	cancel()
	<-done

	var again bytes.Buffer
	run(context.Background(), []string{"authserver", "hash-secret"}, envFrom(nil), &again, io.Discard)
	if again.String() == out.String() {
		t.Error("hash-secret printed the same secret twice")
	}
	if err := run(context.Background(), []string{"authserver", "hash-secret", "extra"}, envFrom(nil), io.Discard, io.Discard); err == nil {
		t.Error("hash-secret accepted an argument")
	}
}

// TestConfigFileWithDemoSecretWarns: a --config file whose client accepts
// the public demo secret is warned about like the embedded demo, naming the
// client but no secret.
func TestConfigFileWithDemoSecretWarns(t *testing.T) {
	const demoHash = "sha256:K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=" // of "secret"
	otherHash := secret.HashOf("not-the-demo-secret")
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "k.jwk") // created by the first run, reused after
	tests := []struct {
		name     string
		secrets  map[string][]string // client id -> stored hashes
		wantWarn []string            // client ids warned about
	}{
		{"the demo hash", map[string][]string{"copied": {demoHash}}, []string{"copied"}},
		{"another hash", map[string][]string{"mine": {otherHash}}, nil},
		{"the demo hash second of two", map[string][]string{"rotating": {otherHash, demoHash}}, []string{"rotating"}},
		{"one client of two", map[string][]string{"copied": {demoHash}, "mine": {otherHash}}, []string{"copied"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := "apiResources:\n  - name: api\n    scopes: [api]\nclients:\n"
			for id, hashes := range tt.secrets {
				yaml += fmt.Sprintf("  - clientId: %s\n    clientSecrets: [%s]\n    allowedGrantTypes: [client_credentials]\n    allowedScopes: [api]\n",
					id, `"`+strings.Join(hashes, `", "`)+`"`)
			}
			cfg := filepath.Join(dir, fmt.Sprintf("clients%d.yaml", i))
			if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, logs, done := startRun(t, ctx, []string{"--addr", "127.0.0.1:0", "--config", cfg, "--key-file", keyFile})
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			var warned []string
			for line := range strings.SplitSeq(logs.String(), "\n") {
				if !strings.Contains(line, "level=WARN") {
					continue
				}
				m := regexp.MustCompile(`msg="a client of --config accepts the public demo secret; replace it: run ` + "`authserver hash-secret`" + `.*" .*client_id=(\S+)`).FindStringSubmatch(line)
				if m == nil {
					t.Errorf("unexpected warning: %s", line)
					continue
				}
				warned = append(warned, m[1])
				for _, leak := range []string{`"secret"`, "=secret", demoHash, otherHash} {
					if strings.Contains(line, leak) {
						t.Errorf("warning shows %q: %s", leak, line)
					}
				}
			}
			if !slices.Equal(warned, tt.wantWarn) {
				t.Errorf("got warnings for %q, want for %q:\n%s", warned, tt.wantWarn, logs)
			}
		})
	}
}

func TestHealthcheck(t *testing.T) {
	var status atomic.Int64
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	check := func(args []string, env map[string]string) error {
		return run(context.Background(), append([]string{"authserver", "healthcheck"}, args...), envFrom(env), io.Discard, io.Discard)
	}

	if err := check([]string{"--addr", ":" + port}, nil); err != nil {
		t.Errorf("ready server via --addr: %v", err)
	}
	if err := check(nil, map[string]string{"AUTHSERVER_ADDR": ":" + port}); err != nil {
		t.Errorf("ready server via AUTHSERVER_ADDR: %v", err)
	}
	// Only the address is read: the server's other settings are not the
	// probe's business, even when wrong.
	unrelated := map[string]string{
		"AUTHSERVER_ADDR": ":" + port, "AUTHSERVER_ISSUER": "ftp://x", "AUTHSERVER_TOKEN_LIFETIME": "soon",
		"AUTHSERVER_KEY_FILE": "/nonexistent/k.jwk", "AUTHSERVER_AUTH_FAILURE_BURST_PER_ADDR": "many",
	}
	if err := check(nil, unrelated); err != nil {
		t.Errorf("ready server with bad unrelated variables: got %v, want nil", err)
	}
	if err := check([]string{"--issuer", "https://as.example"}, nil); err == nil || !strings.Contains(err.Error(), "not defined: -issuer") {
		t.Errorf("healthcheck --issuer: got %v, want an unknown-flag error", err)
	}
	status.Store(http.StatusServiceUnavailable)
	if err := check([]string{"--addr", ":" + port}, nil); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("not-ready server: error = %v, want one naming 503", err)
	}
	srv.Close()
	if err := check([]string{"--addr", ":" + port}, nil); err == nil {
		t.Error("healthcheck of a stopped server succeeded")
	}
}

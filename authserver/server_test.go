package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenbearer/authserver/internal/keystore"
	"github.com/tokenbearer/authserver/internal/registry"
	"github.com/tokenbearer/authserver/internal/secret"
	"github.com/tokenbearer/authserver/internal/throttle"
	"github.com/tokenbearer/httpserver"
)

// Clients of the test configuration, with their plain secrets.
const (
	specialID     = "odd id:é+"
	specialSecret = "p@ss:w+rd/ä %&=?"
)

var testConfigYAML = fmt.Sprintf(`
apiResources:
  - name: auth.web.api
    scopes: [auth.web.api]
  - name: orders.api
    scopes: [orders.read, orders.write]
clients:
  - clientId: ApiClient
    clientSecrets: [%q]
    allowedGrantTypes: [client_credentials]
    allowedScopes: [auth.web.api]
  - clientId: multi
    clientSecrets: [%q, %q]
    allowedGrantTypes: [client_credentials]
    allowedScopes: [auth.web.api, orders.read, orders.write]
  - clientId: %q
    clientSecrets: [%q]
    allowedGrantTypes: [client_credentials]
    allowedScopes: [auth.web.api]
  - clientId: no-grant
    clientSecrets: [%q]
    allowedGrantTypes: []
    allowedScopes: [auth.web.api]
`, secret.HashOf("secret"),
	secret.HashOf("old-multi-secret"), secret.HashOf("multi-secret"),
	specialID, secret.HashOf(specialSecret),
	secret.HashOf("no-grant-secret"))

var sharedKey = sync.OnceValues(func() (keystore.Key, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return keystore.Key{}, err
	}
	return keystore.NewKey(keystore.RS256, priv)
})

// testKeys returns a store with one active RS256 key, shared across tests
// because generating RSA keys is slow.
func testKeys(t testing.TB) *keystore.Store {
	t.Helper()
	k, err := sharedKey()
	if err != nil {
		t.Fatal(err)
	}
	s := keystore.New()
	if err := s.Set([]keystore.Key{k}, k.ID); err != nil {
		t.Fatal(err)
	}
	return s
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testServer struct {
	*httptest.Server
	issuer string
	keys   *keystore.Store
	logs   *syncBuffer
}

// lenient is a failure budget that tests about other things never exhaust.
var lenient = throttle.Limit{PerMinute: 1e6, Burst: 1e6}

// newTestServer starts the server first and then builds the handler with
// the server's real URL as issuer.
func newTestServer(t *testing.T, keys *keystore.Store) *testServer {
	t.Helper()
	return newTestServerWith(t, keys, newAuthThrottle(lenient, lenient, time.Now))
}

// testRegistry is the registry of testConfigYAML.
func testRegistry(tb testing.TB) *registry.Registry {
	tb.Helper()
	reg, err := registry.Parse([]byte(testConfigYAML))
	if err != nil {
		tb.Fatalf("test config: %v", err)
	}
	return reg
}

// newTestHandler is the real handler, without a network, with the test
// clients, issuer http://issuer.test, the given token lifetime and a failure
// budget never spent, so every answer depends on the request alone.
func newTestHandler(tb testing.TB, lifetime time.Duration) http.Handler {
	tb.Helper()
	return NewServer(slog.New(slog.DiscardHandler), "http://issuer.test", lifetime, testRegistry(tb), testKeys(tb), newAuthThrottle(lenient, lenient, time.Now), clientTLS{})
}

// newTestServerWith is newTestServer with the given failure budgets, served
// by the http.Server that serve uses, with its timeouts and header limit.
func newTestServerWith(t *testing.T, keys *keystore.Store, limiter *authThrottle) *testServer {
	t.Helper()
	reg := testRegistry(t)
	var handler http.Handler
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = httpserver.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }), logger)
	srv.Start()
	t.Cleanup(srv.Close)
	handler = NewServer(logger, srv.URL, time.Hour, reg, keys, limiter, clientTLS{})
	return &testServer{Server: srv, issuer: srv.URL, keys: keys, logs: logs}
}

func (s *testServer) get(t *testing.T, path string) (*http.Response, []byte) {
	t.Helper()
	return answer(t)(s.Client().Get(s.URL + path))
}

// answer returns a response and its whole body, failing the test if either could not be had.
func answer(t *testing.T) func(*http.Response, error) (*http.Response, []byte) {
	return func(resp *http.Response, err error) (*http.Response, []byte) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
}

func decodeJSON(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", body, err)
	}
	return m
}

func wantJSONContentType(t *testing.T, resp *http.Response) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
}

func TestHealth(t *testing.T) {
	tests := []struct {
		name       string
		keys       *keystore.Store
		path       string
		wantStatus int
		wantBody   string
	}{
		{"healthz", testKeys(t), "/healthz", 200, `{"status":"ok"}`},
		{"healthz without keys", keystore.New(), "/healthz", 200, `{"status":"ok"}`},
		{"readyz with active key", testKeys(t), "/readyz", 200, `{"status":"ready"}`},
		{"readyz without keys", keystore.New(), "/readyz", 503, `{"status":"not ready"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, tt.keys)
			resp, body := srv.get(t, tt.path)
			if resp.StatusCode != tt.wantStatus || string(body) != tt.wantBody {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			wantJSONContentType(t, resp)
		})
	}
}

func TestUnknownPathIsJSON404(t *testing.T) {
	srv := newTestServer(t, testKeys(t))
	for _, path := range []string{"/nope", "/connect/token/", "/connect/authorize"} {
		resp, body := srv.get(t, path)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s status = %d, want 404", path, resp.StatusCode)
		}
		if m := decodeJSON(t, body); m["error"] != "not_found" {
			t.Errorf("GET %s body = %s", path, body)
		}
	}
}

func TestWrongMethodIsJSON405(t *testing.T) {
	srv := newTestServer(t, testKeys(t))
	resp, body := answer(t)(srv.Client().Post(srv.URL+"/healthz", "text/plain", nil))
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
		t.Errorf("POST /healthz: %d, Allow %q; want 405, GET", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if m := decodeJSON(t, body); m["error"] != "method_not_allowed" {
		t.Errorf("POST /healthz body = %s", body)
	}
}

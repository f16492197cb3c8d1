package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenbearer/authserver/internal/secret"
	"github.com/tokenbearer/authserver/internal/throttle"
)

// Failure budgets small enough for a handful of requests to spend, refilled
// too slowly to matter during a test.
var (
	hostileClientLimit = throttle.Limit{PerMinute: 1, Burst: 3}
	hostileAddrLimit   = throttle.Limit{PerMinute: 1, Burst: 6}
)

// TestHostileTokenRequests sends attacks to the token endpoint of a fresh
// server each, after the requests in before (which must all answer
// beforeStatus), and checks the status, the error code and the headers.
func TestHostileTokenRequests(t *testing.T) {
	good := form("grant_type", "client_credentials")
	post := func(id, sec string) tokenRequest {
		return tokenRequest{body: form("grant_type", "client_credentials", "client_id", id, "client_secret", sec)}
	}
	basic := func(id, sec string) tokenRequest { return tokenRequest{basic: &[2]string{id, sec}, body: good} }
	rawBasic := func(decoded string) tokenRequest {
		return tokenRequest{authz: []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(decoded))}, body: good}
	}
	times := func(n int, tr tokenRequest) []tokenRequest {
		out := make([]tokenRequest, n)
		for i := range out {
			out[i] = tr
		}
		return out
	}
	// distinct fails n times from the same address, each time for another
	// client_id and behind another claimed X-Forwarded-For address.
	distinct := func(n int) []tokenRequest {
		out := make([]tokenRequest, n)
		for i := range out {
			out[i] = post(fmt.Sprint("guess-", i), "x")
			out[i].header = map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i), "X-Real-IP": fmt.Sprintf("203.0.113.%d", i)}
		}
		return out
	}
	withHeader := func(tr tokenRequest, k, v string) tokenRequest {
		tr.header = map[string]string{k: v}
		return tr
	}
	long := strings.Repeat("a", 101)

	tests := []struct {
		name         string
		before       []tokenRequest
		beforeStatus int
		req          tokenRequest
		raw          string // sent as is over TCP instead of req
		wantStatus   int
		wantError    string // "" when net/http answers before the handler
		wantWWW      bool   // WWW-Authenticate: Basic realm="authserver"
		wantRetry    bool   // Retry-After: whole seconds in [1, 60]
	}{
		// Brute force: per client_id.
		{name: "wrong secrets beyond the client_id's burst", before: times(3, basic("ApiClient", "guess")), beforeStatus: 401,
			req: basic("ApiClient", "guess"), wantStatus: 429, wantError: "too_many_requests", wantRetry: true},
		{name: "locked-out client_id with the right secret: checked before verifying", before: times(3, basic("ApiClient", "guess")), beforeStatus: 401,
			req: basic("ApiClient", "secret"), wantStatus: 429, wantError: "too_many_requests", wantRetry: true},
		{name: "lockout follows the client_id across authentication methods", before: times(3, basic("ApiClient", "guess")), beforeStatus: 401,
			req: post("ApiClient", "secret"), wantStatus: 429, wantError: "too_many_requests", wantRetry: true},
		{name: "another client from the same address keeps getting tokens", before: times(3, basic("ApiClient", "guess")), beforeStatus: 401,
			req: basic("multi", "multi-secret"), wantStatus: 200},
		{name: "unknown client_id is limited like a known one (no enumeration)", before: times(3, post("nobody", "x")), beforeStatus: 401,
			req: post("nobody", "x"), wantStatus: 429, wantError: "too_many_requests", wantRetry: true},
		{name: "successes spend no budget", before: times(10, basic("ApiClient", "secret")), beforeStatus: 200,
			req: basic("ApiClient", "guess"), wantStatus: 401, wantError: "invalid_client", wantWWW: true},
		{name: "invalid_request spends no budget", before: times(10, tokenRequest{basic: &[2]string{"ApiClient", "guess"}, body: good + "&scope=a&scope=b"}), beforeStatus: 400,
			req: basic("ApiClient", "secret"), wantStatus: 200},

		// Brute force: per remote address.
		{name: "failures across many client_ids exhaust the address", before: distinct(6), beforeStatus: 401,
			req: basic("ApiClient", "secret"), wantStatus: 429, wantError: "too_many_requests", wantRetry: true},
		{name: "X-Forwarded-For does not buy a new address", before: distinct(6), beforeStatus: 401,
			req: withHeader(basic("multi", "multi-secret"), "X-Forwarded-For", "192.0.2.77"), wantStatus: 429, wantError: "too_many_requests", wantRetry: true},
		{name: "requests without credentials count as failures", before: times(6, tokenRequest{body: good}), beforeStatus: 401,
			req: post("ApiClient", "secret"), wantStatus: 429, wantError: "too_many_requests", wantRetry: true},
		{name: "malformed Basic headers count as failures", before: times(6, tokenRequest{authz: []string{"Basic !!!"}, body: good}), beforeStatus: 401,
			req: post("ApiClient", "secret"), wantStatus: 429, wantError: "too_many_requests", wantRetry: true},
		{name: "over-long client_ids count against the address", before: times(6, post(long, "x")), beforeStatus: 401,
			req: post("ApiClient", "secret"), wantStatus: 429, wantError: "too_many_requests", wantRetry: true},

		// Malformed credentials: 401, never 500.
		{name: "client_id of 101 bytes", req: post(long, "secret"), wantStatus: 401, wantError: "invalid_client"},
		{name: "client_secret of 101 bytes", req: post("ApiClient", strings.Repeat("s", 101)), wantStatus: 401, wantError: "invalid_client"},
		{name: "Basic client_id of 101 bytes", req: basic(long, "secret"), wantStatus: 401, wantError: "invalid_client", wantWWW: true},
		{name: "NUL in client_id", req: post("Api\x00Client", "secret"), wantStatus: 401, wantError: "invalid_client"},
		{name: "NUL in Basic secret", req: basic("ApiClient", "secret\x00"), wantStatus: 401, wantError: "invalid_client", wantWWW: true},
		{name: "escape character in client_id", req: post("Api\x1bClient", "secret"), wantStatus: 401, wantError: "invalid_client"},
		{name: "non-UTF-8 client_id", req: tokenRequest{body: good + "&client_id=%FF%FE&client_secret=secret"}, wantStatus: 401, wantError: "invalid_client"},
		{name: "non-UTF-8 bytes in Basic", req: rawBasic("\xff\xfe:secret"), wantStatus: 401, wantError: "invalid_client", wantWWW: true},
		{name: "Basic not base64", req: tokenRequest{authz: []string{"Basic a$b%c"}, body: good}, wantStatus: 401, wantError: "invalid_client", wantWWW: true},
		{name: "Basic without colon", req: rawBasic("ApiClient"), wantStatus: 401, wantError: "invalid_client", wantWWW: true},
		{name: "Basic with bad percent-encoding", req: rawBasic("Api%2Client:secret"), wantStatus: 401, wantError: "invalid_client", wantWWW: true},
		{name: "Basic scheme without credentials", req: tokenRequest{authz: []string{"Basic "}, body: good}, wantStatus: 401, wantError: "invalid_client", wantWWW: true},
		{name: "Basic scheme is case-insensitive", req: tokenRequest{authz: []string{"bAsIc " + base64.StdEncoding.EncodeToString([]byte("ApiClient:secret"))}, body: good}, wantStatus: 200},

		// Parameters in the wrong place, repeated, or too large.
		{name: "credentials only in the query string", req: tokenRequest{query: "client_id=ApiClient&client_secret=secret", body: good}, wantStatus: 400, wantError: "invalid_request"},
		{name: "valid body, secret repeated in the query string", req: tokenRequest{query: "client_secret=secret", body: post("ApiClient", "secret").body}, wantStatus: 400, wantError: "invalid_request"},
		{name: "repeated client_id", req: tokenRequest{body: good + "&client_id=ApiClient&client_id=multi&client_secret=secret"}, wantStatus: 400, wantError: "invalid_request"},
		{name: "repeated client_secret", req: tokenRequest{body: good + "&client_id=ApiClient&client_secret=guess&client_secret=secret"}, wantStatus: 400, wantError: "invalid_request"},
		{name: "body of 64 KiB + 1", req: tokenRequest{basic: &[2]string{"ApiClient", "secret"}, body: good + "&pad=" + strings.Repeat("a", 64<<10-len(good)-4)}, wantStatus: 413, wantError: "invalid_request"},
		{name: "chunked body over 64 KiB (no Content-Length)", raw: "POST /connect/token HTTP/1.1\r\nHost: x\r\nContent-Type: " + formType +
			"\r\nTransfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", 70<<10, strings.Repeat("a", 70<<10)),
			wantStatus: 413, wantError: "invalid_request"},
		{name: "headers over 16 KiB", req: withHeader(basic("ApiClient", "secret"), "X-Pad", strings.Repeat("a", 24<<10)), wantStatus: 431},
		{name: "unusual method", req: tokenRequest{method: "PROPFIND", basic: &[2]string{"ApiClient", "secret"}, body: good}, wantStatus: 405, wantError: "invalid_request"},
		{name: "non-UTF-8 grant_type", req: tokenRequest{basic: &[2]string{"ApiClient", "secret"}, body: "grant_type=%FF"}, wantStatus: 400, wantError: "unsupported_grant_type"},
		{name: "non-UTF-8 scope", req: tokenRequest{basic: &[2]string{"ApiClient", "secret"}, body: good + "&scope=%C3"}, wantStatus: 400, wantError: "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServerWith(t, testKeys(t), newAuthThrottle(hostileClientLimit, hostileAddrLimit, time.Now))
			for i, tr := range tt.before {
				if resp, body := srv.token(t, tr); resp.StatusCode != tt.beforeStatus {
					t.Fatalf("setup request %d: status %d %s, want %d", i, resp.StatusCode, body, tt.beforeStatus)
				}
			}
			var resp *http.Response
			var body []byte
			if tt.raw != "" {
				resp, body = sendRaw(t, srv.Listener.Addr().String(), tt.raw)
			} else {
				resp, body = srv.token(t, tt.req)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d %.200s, want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if tt.wantStatus == 200 {
				if decodeJSON(t, body)["access_token"] == nil {
					t.Errorf("200 without access_token: %s", body)
				}
			}
			if tt.wantError != "" || tt.wantStatus == 200 {
				wantNoStore(t, resp)
				wantJSONContentType(t, resp)
			}
			if tt.wantError != "" {
				if got := decodeJSON(t, body)["error"]; got != tt.wantError {
					t.Errorf("error = %v, want %s (%s)", got, tt.wantError, body)
				}
			}
			if www := resp.Header.Values("WWW-Authenticate"); tt.wantWWW && !slices.Equal(www, []string{basicRealm}) || !tt.wantWWW && len(www) > 0 {
				t.Errorf("WWW-Authenticate = %q, want Basic realm: %v", www, tt.wantWWW)
			}
			retry := resp.Header.Get("Retry-After")
			if tt.wantRetry {
				if n, err := strconv.Atoi(retry); err != nil || n < 1 || n > 60 {
					t.Errorf("Retry-After = %q, want whole seconds in [1, 60]", retry)
				}
			} else if retry != "" {
				t.Errorf("Retry-After = %q, want none", retry)
			}
		})
	}
}

// sendRaw writes request to addr as is and reads one response.
func sendRaw(t *testing.T, addr, request string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	return answer(t)(http.ReadResponse(bufio.NewReader(conn), nil))
}

// TestSlowHeadersAreCutOff: a client that never finishes its headers
// (Slowloris) loses the connection after ReadHeaderTimeout.
func TestSlowHeadersAreCutOff(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 5 s ReadHeaderTimeout")
	}
	t.Parallel()
	srv := newTestServer(t, testKeys(t))
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	io.WriteString(conn, "POST /connect/token HTTP/1.1\r\nHost: x\r\n")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.Copy(io.Discard, conn) // returns when the server closes
	if elapsed := time.Since(start); err != nil || elapsed < 4*time.Second || elapsed > 8*time.Second {
		t.Errorf("connection closed after %v (err %v), want about 5s", elapsed, err)
	}
}

func TestRequestLogIgnoresForwardedFor(t *testing.T) {
	srv := newTestServer(t, testKeys(t))
	srv.token(t, tokenRequest{basic: &[2]string{"ApiClient", "secret"}, body: form("grant_type", "client_credentials"),
		header: map[string]string{"X-Forwarded-For": "198.51.100.9", "X-Real-IP": "198.51.100.10"}})
	logs := srv.logs.String()
	if !strings.Contains(logs, "remote=127.0.0.1") || strings.Contains(logs, "198.51.100.") {
		t.Errorf("request log should name the TCP peer 127.0.0.1, not a forwarding header:\n%s", logs)
	}
}

func TestAddrKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:1234":             "192.0.2.1",
		"[::ffff:192.0.2.1]:1234":    "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:1":   "2001:db8:1:2::/64",
		"[fe80::1%eth0]:80":          "fe80::/64",
		"not an address":             "not an address",
	} {
		if got := addrKey(in); got != want {
			t.Errorf("addrKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRunNeverLogsSecrets drives the real run, its logger and its
// http.Server with a known secret through successes, failures, malformed
// and throttled requests, then searches the whole log for it.
func TestRunNeverLogsSecrets(t *testing.T) {
	plain := secret.Generate()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "clients.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("apiResources:\n  - name: api\n    scopes: [api]\nclients:\n  - clientId: svc\n    clientSecrets: [%q]\n    allowedGrantTypes: [client_credentials]\n    allowedScopes: [api]\n", secret.HashOf(plain))), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, logs, done := startRun(t, ctx, []string{"--addr", "127.0.0.1:0", "--config", cfg, "--key-file", filepath.Join(dir, "k.jwk"),
		"--auth-failure-burst-per-client", "2", "--auth-failure-rate-per-client", "1",
		"--auth-failure-burst-per-addr", "5", "--auth-failure-rate-per-addr", "1"})
	base := "http://" + addr

	authzValues := []string{
		basicHeader("svc", plain),
		basicHeader("svc", plain+"x"),
		"Basic " + base64.StdEncoding.EncodeToString([]byte("svc:"+plain+"%zz")),
		"Basic " + plain,
		"Bearer " + plain,
	}
	send := func(query, body string, authz string) []byte {
		req, _ := http.NewRequest(http.MethodPost, base+"/connect/token"+query, strings.NewReader(body))
		req.Header.Set("Content-Type", formType)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		_, b := answer(t)(http.DefaultClient.Do(req))
		return b
	}
	good := form("grant_type", "client_credentials")
	token, _ := decodeJSON(t, send("", good, authzValues[0]))["access_token"].(string)
	if token == "" {
		t.Fatal("no token for the valid client")
	}
	for _, a := range authzValues[1:] {
		send("", good, a)
	}
	send("", form("grant_type", "client_credentials", "client_id", "svc", "client_secret", plain), "")
	send("?client_secret="+plain, good, "")
	send("", form("grant_type", "client_credentials", "client_id", "svc", "client_secret", plain+"y"), "")
	send("", form("grant_type", "client_credentials", "client_id", "svc", "client_secret", plain+"z"), "") // throttled: svc spent its 2
	// The address has spent its 5 (four bad headers, one bad body secret):
	// a secret pasted as client_id is throttled, and must not be logged.
	send("", form("grant_type", "client_credentials", "client_id", plain, "client_secret", plain), "")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	out := logs.String()
	for _, want := range []string{"status=200", "status=401", "status=429", "client authentication throttled"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q; the test no longer covers that path:\n%s", want, out)
		}
	}
	leaks := []string{plain, token, strings.Split(token, ".")[1]}
	for _, a := range authzValues {
		leaks = append(leaks, a, strings.TrimPrefix(a, "Basic "))
	}
	for _, leak := range leaks {
		if strings.Contains(out, leak) {
			t.Errorf("log contains %q:\n%s", leak, out)
		}
	}
}

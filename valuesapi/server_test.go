package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/tokenbearer/valuesapi/bearer"
	"github.com/tokenbearer/valuesapi/bearer/bearertest"
)

const (
	testAudience = "auth.web.api"
	testScope    = "auth.web.api"
)

// newTestServer starts a fake authority, a Validator against it configured as the service configures it by
// default (only --authority given), and the service handler, and waits until the keys are loaded.
func newTestServer(t *testing.T, logs io.Writer) (*bearertest.Authority, http.Handler) {
	t.Helper()
	a := bearertest.NewAuthority(t)
	if logs == nil {
		logs = io.Discard
	}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg, err := parseConfig("valuesapi", []string{"--authority", a.URL}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatalf("parseConfig: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := bearer.New(ctx, cfg.bearerConfig(logger))
	if err != nil {
		t.Fatalf("bearer.New: %v", err)
	}
	waitReady(t, v)
	return a, NewServer(logger, v, cfg.Scope)
}

func waitReady(t *testing.T, v *bearer.Validator) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !v.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("validator not ready after 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func invalidToken(description string) string {
	return `Bearer error="invalid_token", error_description="` + description + `"`
}

func invalidTokenBody(description string) string {
	return `{"error":"invalid_token","error_description":"` + description + `"}`
}

// TestValuesAuthorization walks every row of the valuesapi table in SPEC.md through the real handler.
func TestValuesAuthorization(t *testing.T) {
	a, h := newTestServer(t, nil)
	keys := bearertest.Keys(t)

	// token signs a variant of a valid token; edit changes its header and claims first.
	token := func(edit func(h map[string]any, c jwt.MapClaims)) string {
		hdr, claims := a.Header(), a.Claims(testAudience, testScope)
		if edit != nil {
			edit(hdr, claims)
		}
		return bearertest.Sign(t, a.Key, hdr, claims)
	}
	bearerOf := func(tok string) []string { return []string{"Bearer " + tok} }
	now := time.Now()
	pubPEM, err := x509.MarshalPKIXPublicKey(&a.Key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubPEM})

	const (
		valuesBody    = `["value1","value2"]`
		noCredentials = `Bearer realm="valuesapi"`
	)
	tests := []struct {
		name       string
		auth       []string // Authorization header values; nil sends none
		wantStatus int
		wantHeader string // WWW-Authenticate
		wantBody   string // JSON, compared semantically; "" means empty
	}{
		{"valid", bearerOf(token(nil)), 200, "", valuesBody},
		{"scheme lowercase", []string{"bearer " + token(nil)}, 200, "", valuesBody},
		{"scheme uppercase", []string{"BEARER " + token(nil)}, 200, "", valuesBody},

		{"no header", nil, 401, noCredentials, ""},
		{"empty header", []string{""}, 401, noCredentials, ""},
		{"other scheme (Basic)", []string{"Basic QXBpQ2xpZW50OnNlY3JldA=="}, 401, noCredentials, ""},
		{"no scheme", []string{token(nil)}, 401, invalidToken("malformed authorization header"), invalidTokenBody("malformed authorization header")},
		{"Bearer without token", []string{"Bearer"}, 401, invalidToken("malformed authorization header"), invalidTokenBody("malformed authorization header")},
		{"Bearer with blank token", []string{"Bearer    "}, 401, invalidToken("malformed authorization header"), invalidTokenBody("malformed authorization header")},
		{"two tokens", []string{"Bearer " + token(nil) + " " + token(nil)}, 401, invalidToken("malformed authorization header"), invalidTokenBody("malformed authorization header")},
		{"two headers", []string{"Bearer " + token(nil), "Bearer " + token(nil)}, 401, invalidToken("malformed authorization header"), invalidTokenBody("malformed authorization header")},
		{"not token68", []string{`Bearer a"b`}, 401, invalidToken("malformed authorization header"), invalidTokenBody("malformed authorization header")},
		{"not a JWT", bearerOf("abc"), 401, invalidToken("malformed token"), invalidTokenBody("malformed token")},
		{"token over 8 KiB", bearerOf(strings.Repeat("a", 8<<10+1)), 401, invalidToken("token too large"), invalidTokenBody("token too large")},

		{"bad signature", bearerOf(bearertest.Sign(t, keys[1], a.Header(), a.Claims(testAudience, testScope))), 401, invalidToken("invalid token signature"), invalidTokenBody("invalid token signature")},
		{"tampered payload", bearerOf(tamper(t, token(nil))), 401, invalidToken("invalid token signature"), invalidTokenBody("invalid token signature")},

		{"expired", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["exp"] = now.Add(-2 * time.Minute).Unix() })), 401, invalidToken("token is expired"), invalidTokenBody("token is expired")},
		{"expired within leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() })), 200, "", valuesBody},
		// The default leeway is 30 s; claims are whole seconds, so each row keeps its slack on the side that
		// does not depend on how fast the test runs.
		{"exp 27s ago, inside the default leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["exp"] = now.Add(-27 * time.Second).Unix() })), 200, "", valuesBody},
		{"exp 31s ago, past the default leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["exp"] = now.Add(-31 * time.Second).Unix() })), 401, invalidToken("token is expired"), invalidTokenBody("token is expired")},
		{"exp missing", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { delete(c, "exp") })), 401, invalidToken("token is missing a required claim"), invalidTokenBody("token is missing a required claim")},
		{"nbf in future", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["nbf"] = now.Add(2 * time.Minute).Unix() })), 401, invalidToken("token is not valid yet"), invalidTokenBody("token is not valid yet")},
		{"nbf in future within leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["nbf"] = now.Add(10 * time.Second).Unix() })), 200, "", valuesBody},
		{"nbf 29s ahead, inside the default leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["nbf"] = now.Add(29 * time.Second).Unix() })), 200, "", valuesBody},
		{"nbf 34s ahead, past the default leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["nbf"] = now.Add(34 * time.Second).Unix() })), 401, invalidToken("token is not valid yet"), invalidTokenBody("token is not valid yet")},
		{"iat in future", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["iat"] = now.Add(2 * time.Minute).Unix() })), 401, invalidToken("token issued in the future"), invalidTokenBody("token issued in the future")},
		{"iat in future within leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["iat"] = now.Add(10 * time.Second).Unix() })), 200, "", valuesBody},
		{"iat 29s ahead, inside the default leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["iat"] = now.Add(29 * time.Second).Unix() })), 200, "", valuesBody},
		{"iat 34s ahead, past the default leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["iat"] = now.Add(34 * time.Second).Unix() })), 401, invalidToken("token issued in the future"), invalidTokenBody("token issued in the future")},

		{"wrong iss", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["iss"] = "http://evil.example" })), 401, invalidToken("invalid issuer"), invalidTokenBody("invalid issuer")},
		{"iss with trailing slash", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["iss"] = a.URL + "/" })), 401, invalidToken("invalid issuer"), invalidTokenBody("invalid issuer")},
		{"iss missing", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { delete(c, "iss") })), 401, invalidToken("token is missing a required claim"), invalidTokenBody("token is missing a required claim")},
		{"wrong aud", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["aud"] = "other.api" })), 401, invalidToken("invalid audience"), invalidTokenBody("invalid audience")},
		{"aud array with audience", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["aud"] = []string{"other.api", testAudience} })), 200, "", valuesBody},
		{"aud array without audience", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["aud"] = []string{"other.api"} })), 401, invalidToken("invalid audience"), invalidTokenBody("invalid audience")},

		{"typ JWT", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { h["typ"] = "JWT" })), 401, invalidToken("token type must be at+jwt"), invalidTokenBody("token type must be at+jwt")},
		{"typ missing", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { delete(h, "typ") })), 401, invalidToken("token type must be at+jwt"), invalidTokenBody("token type must be at+jwt")},
		{"typ application/at+jwt", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { h["typ"] = "application/at+jwt" })), 200, "", valuesBody},
		{"typ AT+JWT", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { h["typ"] = "AT+JWT" })), 200, "", valuesBody},

		{"alg none", bearerOf(bearertest.Sign(t, jwt.UnsafeAllowNoneSignatureType, map[string]any{"alg": "none", "kid": a.KID, "typ": "at+jwt"}, a.Claims(testAudience, testScope))), 401, invalidToken("signing algorithm not allowed"), invalidTokenBody("signing algorithm not allowed")},
		{"HS256 keyed with the public key", bearerOf(bearertest.Sign(t, pubPEM, map[string]any{"alg": "HS256", "kid": a.KID, "typ": "at+jwt"}, a.Claims(testAudience, testScope))), 401, invalidToken("signing algorithm not allowed"), invalidTokenBody("signing algorithm not allowed")},
		{"RS512 not allowed", bearerOf(bearertest.Sign(t, a.Key, map[string]any{"alg": "RS512", "kid": a.KID, "typ": "at+jwt"}, a.Claims(testAudience, testScope))), 401, invalidToken("signing algorithm not allowed"), invalidTokenBody("signing algorithm not allowed")},

		{"unknown kid", bearerOf(bearertest.Sign(t, keys[1], map[string]any{"alg": "RS256", "kid": "nope", "typ": "at+jwt"}, a.Claims(testAudience, testScope))), 401, invalidToken("unknown signing key"), invalidTokenBody("unknown signing key")},
		{"kid missing", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { delete(h, "kid") })), 401, invalidToken("token has no key id"), invalidTokenBody("token has no key id")},
		{"kid not a string", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { h["kid"] = 7 })), 401, invalidToken("token has no key id"), invalidTokenBody("token has no key id")},
		{"unknown crit", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { h["crit"] = []string{"exp"}; h["exp"] = 1 })), 401, invalidToken("unsupported critical header"), invalidTokenBody("unsupported critical header")},

		{"scope missing", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["scope"] = "other.scope" })), 403,
			`Bearer error="insufficient_scope", scope="auth.web.api"`,
			`{"error":"insufficient_scope","error_description":"token lacks the required scope"}`},
		{"scope claim absent", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { delete(c, "scope") })), 403,
			`Bearer error="insufficient_scope", scope="auth.web.api"`,
			`{"error":"insufficient_scope","error_description":"token lacks the required scope"}`},
		{"scope prefix only", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["scope"] = "auth.web.api.admin" })), 403,
			`Bearer error="insufficient_scope", scope="auth.web.api"`,
			`{"error":"insufficient_scope","error_description":"token lacks the required scope"}`},
		{"scope upper-case", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["scope"] = "AUTH.WEB.API" })), 403,
			`Bearer error="insufficient_scope", scope="auth.web.api"`,
			`{"error":"insufficient_scope","error_description":"token lacks the required scope"}`},
		{"scope mixed case", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["scope"] = "Auth.Web.Api" })), 403,
			`Bearer error="insufficient_scope", scope="auth.web.api"`,
			`{"error":"insufficient_scope","error_description":"token lacks the required scope"}`},
		{"scope among others", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["scope"] = "openid auth.web.api profile" })), 200, "", valuesBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/api/values", nil)
			for _, v := range tt.auth {
				req.Header.Add("Authorization", v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != tt.wantStatus {
				t.Errorf("status: got %d, want %d (body %s)", rec.Code, tt.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.wantHeader {
				t.Errorf("WWW-Authenticate:\n got %s\nwant %s", got, tt.wantHeader)
			}
			assertJSON(t, rec.Body.Bytes(), tt.wantBody)
		})
	}
}

// tamper swaps the token's payload for another one, keeping header and signature.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	payload, err := jwt.NewParser().DecodeSegment(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	payload = bytes.Replace(payload, []byte(`"sub":"ApiClient"`), []byte(`"sub":"Attacker1"`), 1)
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func assertJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	if want == "" {
		if len(got) != 0 {
			t.Errorf("body: got %s, want empty", got)
		}
		return
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("body %q is not JSON: %v", got, err)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("body: got %s, want %s", gb, wb)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	a := bearertest.NewAuthority(t)
	a.Down(true)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := bearer.New(ctx, bearer.Config{Authority: a.URL, Audience: testAudience, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h := NewServer(slog.New(slog.DiscardHandler), v, testScope)
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}

	if rec := get("/healthz"); rec.Code != 200 || rec.Body.String() != `{"status":"ok"}` {
		t.Errorf("/healthz while authority down: got %d %s, want 200 {\"status\":\"ok\"}", rec.Code, rec.Body)
	}
	if rec := get("/readyz"); rec.Code != 503 || readyzReason(t, rec) == "" {
		t.Errorf("/readyz before keys: got %d %s, want 503 {\"status\":\"not ready\",\"reason\":...}", rec.Code, rec.Body)
	}
	a.Down(false)
	waitReady(t, v)
	if rec := get("/readyz"); rec.Code != 200 || rec.Body.String() != `{"status":"ready"}` {
		t.Errorf("/readyz after keys: got %d %s, want 200 {\"status\":\"ready\"}", rec.Code, rec.Body)
	}
	if rec := get("/nope"); rec.Code != 404 || rec.Body.String() != `{"error":"not found"}` {
		t.Errorf("unknown path: got %d %s, want 404 JSON", rec.Code, rec.Body)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/values", nil))
	if rec.Code != 405 || rec.Header().Get("Allow") != "GET" {
		t.Errorf("POST /api/values: got %d Allow=%q, want 405 Allow=GET", rec.Code, rec.Header().Get("Allow"))
	}
}

// readyzReason decodes a 503 /readyz body, checks its status member, and returns its reason.
func readyzReason(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct{ Status, Reason string }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("/readyz body %q: %v", rec.Body, err)
	}
	if body.Status != "not ready" {
		t.Errorf("/readyz status: got %q, want \"not ready\"", body.Status)
	}
	return body.Reason
}

// TestReadyzSaysWhy: while the keys cannot be loaded every token gets 401 "signing keys not available", so /readyz
// names the cause, which is the authority's, not the token's.
func TestReadyzSaysWhy(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T) string // returns the authority to configure
		want  string                    // in the reason
	}{
		{"authority refuses connections", func(t *testing.T) string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln.Close()
			return "http://" + ln.Addr().String()
		}, "connection refused"},
		{"authority answers 503", func(t *testing.T) string {
			a := bearertest.NewAuthority(t)
			a.Down(true)
			return a.URL
		}, "status 503"},
		{"issuer mismatch", func(t *testing.T) string {
			a := bearertest.NewAuthority(t)
			a.SetIssuer("http://localhost:44364")
			return a.URL
		}, `discovery issuer "http://localhost:44364" does not match authority "http://127.0.0.1:`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			v, err := bearer.New(ctx, bearer.Config{Authority: tt.setup(t), Audience: testAudience, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			h := NewServer(slog.New(slog.DiscardHandler), v, testScope)
			var rec *httptest.ResponseRecorder
			reason := ""
			// The reason changes once, when the first attempt ends; the bound only catches a hang.
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				rec = httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
				if rec.Code != 503 {
					t.Fatalf("/readyz: got %d %s, want 503", rec.Code, rec.Body)
				}
				if reason = readyzReason(t, rec); !strings.Contains(reason, "first attempt in progress") || time.Now().After(deadline) {
					break
				}
			}
			if !strings.Contains(reason, tt.want) {
				t.Errorf("/readyz reason: got %q, want it to contain %q", reason, tt.want)
			}
		})
	}
}

// TestRecoverJSON: NewServer's middleware turns a panic into a JSON 500 that reveals nothing, and logs the cause.
func TestRecoverJSON(t *testing.T) {
	var logs bytes.Buffer
	_, h := newTestServer(t, &logs)
	r := h.(*gin.Engine)
	r.GET("/boom", func(*gin.Context) { panic("secret internal detail") })
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))

	if rec.Code != 500 || rec.Body.String() != `{"error":"internal server error"}` {
		t.Errorf("got %d %s, want 500 {\"error\":\"internal server error\"}", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "secret internal detail") {
		t.Errorf("panic not logged: %s", logs.String())
	}
}

// TestLogsNeverContainTokens: the request logger and the bearer rejection log must not leak credentials.
func TestLogsNeverContainTokens(t *testing.T) {
	var logs bytes.Buffer
	a, h := newTestServer(t, &logs)
	good := a.Token(t, testAudience, testScope)
	bad := a.Token(t, "other.api", testScope)
	for _, tok := range []string{good, bad} {
		req := httptest.NewRequest(http.MethodGet, "/api/values?access_token="+tok, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	out := logs.String()
	if !strings.Contains(out, `msg=request method=GET path=/api/values status=200`) {
		t.Errorf("request log line missing: %s", out)
	}
	if !strings.Contains(out, `level=INFO msg="bearer token rejected" component=bearer path=/api/values status=401 error=invalid_token reason="invalid audience"`) {
		t.Errorf("rejection and its reason not logged at Info: %s", out)
	}
	for _, tok := range []string{good, bad} {
		sig := tok[strings.LastIndex(tok, ".")+1:]
		if strings.Contains(out, tok) || strings.Contains(out, sig) || strings.Contains(out, "access_token") || strings.Contains(out, "Authorization") {
			t.Fatalf("log contains a token: %s", out)
		}
	}
}

func TestHealthProbesLogOnlyAtDebug(t *testing.T) {
	var logs bytes.Buffer
	_, h := newTestServer(t, &logs) // logs at Debug, so the level of each line shows
	for _, p := range []string{"/healthz", "/readyz", "/api/values"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
	}
	got := logs.String()
	for _, want := range []string{
		"level=DEBUG msg=request method=GET path=/healthz",
		"level=DEBUG msg=request method=GET path=/readyz",
		"level=INFO msg=request method=GET path=/api/values",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
}

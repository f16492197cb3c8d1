package bearer_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tokenbearer/valuesapi/bearer"
	"github.com/tokenbearer/valuesapi/bearer/bearertest"
)

func TestRequireAllScopesAndClaimsFrom(t *testing.T) {
	a := bearertest.NewAuthority(t)
	v := newValidator(t, a.URL, func(c *bearer.Config) { c.Realm = "test" })
	waitReady(t, v)
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/x", v.Require("read", "write"), func(c *gin.Context) {
		claims, ok := bearer.ClaimsFrom(c)
		if !ok {
			c.String(500, "no claims")
			return
		}
		c.String(200, claims.ClientID)
	})
	tests := []struct {
		scope      string
		wantStatus int
		wantBody   string
		wantHeader string
	}{
		{"read write", 200, "ApiClient", ""},
		{"write other read", 200, "ApiClient", ""},
		{"read", 403, `{"error":"insufficient_scope","error_description":"token lacks the required scope"}` + "\n",
			`Bearer error="insufficient_scope", scope="read write"`},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		req.Header.Set("Authorization", "Bearer "+a.Token(t, audience, tt.scope))
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody || rec.Header().Get("WWW-Authenticate") != tt.wantHeader {
			t.Errorf("scope %q: got %d %q %q, want %d %q %q", tt.scope, rec.Code, rec.Body, rec.Header().Get("WWW-Authenticate"),
				tt.wantStatus, tt.wantBody, tt.wantHeader)
		}
	}

	// Without Require there are no claims.
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	if _, ok := bearer.ClaimsFrom(c); ok {
		t.Error("ClaimsFrom on an unauthenticated context: got ok")
	}
}

func TestRequirePanicsOnInvalidScope(t *testing.T) {
	a := bearertest.NewAuthority(t)
	v := newValidator(t, a.URL, nil)
	for _, scope := range []string{"", "a b", `a"b`} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Require(%q) did not panic", scope)
				}
			}()
			v.Require(scope)
		}()
	}
}

func TestIsScopeToken(t *testing.T) {
	for _, tt := range []struct {
		scope string
		want  bool
	}{
		{"auth.web.api", true},
		{"!#[]~", true}, // the edges of %x21 / %x23-5B / %x5D-7E
		{"", false},
		{"a b", false},
		{"a\tb", false},
		{`a"b`, false},
		{`a\b`, false},
		{"a\x7fb", false},
		{"a\x00", false},
		{"é", false},
		{"\xff", false},
	} {
		if got := bearer.IsScopeToken(tt.scope); got != tt.want {
			t.Errorf("IsScopeToken(%q): got %v, want %v", tt.scope, got, tt.want)
		}
	}
}

// lockedBuffer lets the validator's goroutines and the test share a log buffer.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRefreshFailuresDoNotFloodLogs: while the authority is down, every unknown kid costs a failed refresh; only the
// first is logged within the throttle window.
func TestRefreshFailuresDoNotFloodLogs(t *testing.T) {
	var logs lockedBuffer
	a := bearertest.NewAuthority(t)
	v := newValidator(t, a.URL, func(c *bearer.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c.UnknownKIDInterval = time.Millisecond
	})
	waitReady(t, v)
	a.Down(true)
	start := a.JWKSFetches()
	for i := range 5 {
		time.Sleep(2 * time.Millisecond) // let the limiter refill
		token := bearertest.Sign(t, a.Key, map[string]any{"alg": "RS256", "kid": "k" + string(rune('a'+i)), "typ": "at+jwt"}, a.Claims(audience, audience))
		if err := validateWithin(t, v, token, 5*time.Second); !isDescription(err, "unknown signing key") {
			t.Fatalf("got %v, want unknown signing key", err)
		}
	}
	if got := a.JWKSFetches() - start; got < 2 {
		t.Fatalf("only %d refreshes attempted; the test needs several failures", got)
	}
	if n := strings.Count(logs.String(), "JWKS refresh failed"); n != 1 {
		t.Errorf("refresh failure log lines: got %d, want 1:\n%s", n, logs.String())
	}
}

// TestRejectionsAreLoggedWithTheirReason: every refused request leaves an Info line with the error_description
// the client got, so "why was my token refused" is answered by the log; the token and the Authorization header
// never appear in it, not even at Debug.
func TestRejectionsAreLoggedWithTheirReason(t *testing.T) {
	var logs lockedBuffer
	a, _, h := hostileServer(t, func(c *bearer.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	expired := a.Claims(audience, audience)
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	tests := []struct {
		name   string
		auth   string // Authorization header; "" sends none
		status int
		reason string
	}{
		{"no credentials", "", 401, "bearer token required"},
		{"malformed header", "Bearer a b", 401, "malformed authorization header"},
		{"expired", "Bearer " + bearertest.Sign(t, a.Key, a.Header(), expired), 401, "token is expired"},
		{"wrong audience", "Bearer " + a.Token(t, "other.api", audience), 401, "invalid audience"},
		{"unknown kid", "Bearer " + bearertest.Sign(t, a.Key, map[string]any{"alg": "RS256", "kid": "nope", "typ": "at+jwt"}, a.Claims(audience, audience)), 401, "unknown signing key"},
		{"insufficient scope", "Bearer " + a.Token(t, audience, "other"), 403, "token lacks the required scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(logs.String())
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status: got %d, want %d", rec.Code, tt.status)
			}
			out := logs.String()[before:]
			want := fmt.Sprintf(`level=INFO msg="bearer token rejected" component=bearer path=/x status=%d`, tt.status)
			if !strings.Contains(out, want) || !strings.Contains(out, fmt.Sprintf("reason=%q", tt.reason)) {
				t.Errorf("log: got\n%s\nwant a line with %s and reason=%q", out, want, tt.reason)
			}
			if tt.auth == "" {
				return
			}
			token := strings.TrimPrefix(tt.auth, "Bearer ")
			for _, secret := range []string{token, token[strings.LastIndexByte(token, '.')+1:], "Authorization", "Bearer "} {
				if strings.Contains(out, secret) {
					t.Errorf("log contains %q:\n%s", secret, out)
				}
			}
		})
	}
}

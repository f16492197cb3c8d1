package bearer

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestChallenge(t *testing.T) {
	tests := []struct {
		name  string
		realm string
		err   error
		scope string
		want  string
	}{
		{"no credentials", "valuesapi", ErrNoToken, "s", `Bearer realm="valuesapi"`},
		{"no credentials, no realm", "", ErrNoToken, "", `Bearer`},
		{"invalid token", "valuesapi", errExpired, "s", `Bearer error="invalid_token", error_description="token is expired"`},
		{"invalid token, no realm", "", errExpired, "", `Bearer error="invalid_token", error_description="token is expired"`},
		{"cause stays out of the header", "r", errExpired.because(errHostile), "", `Bearer error="invalid_token", error_description="token is expired"`},
		{"insufficient scope", "valuesapi", ErrInsufficientScope, "auth.web.api", `Bearer error="insufficient_scope", scope="auth.web.api"`},
		{"hostile description is stripped", "r", invalidToken("a\"b\\c\r\nX-Evil: 1 é"), "", `Bearer error="invalid_token", error_description="abcX-Evil: 1 "`},
		{"foreign error becomes invalid_token", "r", errHostile, "", `Bearer error="invalid_token", error_description="invalid token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Challenge(tt.realm, tt.err, tt.scope); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

type hostileError struct{}

func (hostileError) Error() string { return "kid \"x\"\r\nSet-Cookie: a=b" }

var errHostile = hostileError{}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantBody   string
	}{
		{"no credentials: empty body", ErrNoToken, 401, ""},
		{"invalid token: JSON body", errExpired, 401, `{"error":"invalid_token","error_description":"token is expired"}` + "\n"},
		{"insufficient scope: 403", ErrInsufficientScope, 403, `{"error":"insufficient_scope","error_description":"token lacks the required scope"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteError(rec, "r", tt.err, "s")
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
			if rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate header")
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control: got %q, want no-store", got)
			}
			if tt.wantBody != "" && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type: got %q, want application/json", rec.Header().Get("Content-Type"))
			}
		})
	}
}

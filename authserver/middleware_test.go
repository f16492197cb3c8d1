package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// newEngine is NewServer's handler as the gin engine it is, so a test can add a route to it.
func newEngine(t *testing.T, logs io.Writer) *gin.Engine {
	t.Helper()
	h := NewServer(slog.New(slog.NewTextHandler(logs, nil)), "http://issuer.test", time.Hour, testRegistry(t), testKeys(t),
		newAuthThrottle(lenient, lenient, time.Now), clientTLS{})
	return h.(*gin.Engine)
}

// TestRecoveryAnswersJSON500WithoutInternals: NewServer's middleware turns a panic into the RFC 6749-shaped 500,
// and the request log, outermost, sees that 500.
func TestRecoveryAnswersJSON500WithoutInternals(t *testing.T) {
	logs := &syncBuffer{}
	r := newEngine(t, logs)
	r.GET("/boom", func(*gin.Context) { panic("database password is hunter2") })

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", rec.Code)
	}
	if got, want := string(body), `{"error":"server_error","error_description":"internal server error"}`; got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
	if !strings.Contains(logs.String(), "panic serving request") {
		t.Errorf("panic not logged: %s", logs)
	}
	if !strings.Contains(logs.String(), "path=/boom status=500") {
		t.Errorf("request logger did not see the 500: %s", logs)
	}
}

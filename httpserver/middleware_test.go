package httpserver

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

type problem struct {
	Error string `json:"error"`
}

func newEngine(logs *bytes.Buffer) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	_ = r.SetTrustedProxies(nil)
	logger := slog.New(slog.NewTextHandler(logs, nil)) // default level: Info
	r.Use(LogRequests(logger), RecoverJSON(logger, problem{Error: "internal"}))
	return r
}

func TestRecoverJSONAnswersTheGivenBodyAndLogsTheCause(t *testing.T) {
	var logs bytes.Buffer
	r := newEngine(&logs)
	r.GET("/boom", func(*gin.Context) { panic("database password is hunter2") })

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if rec.Code != http.StatusInternalServerError || rec.Body.String() != `{"error":"internal"}` {
		t.Errorf("got %d %s, want 500 {\"error\":\"internal\"}", rec.Code, rec.Body)
	}
	for _, want := range []string{"panic serving request", "database password is hunter2", "stack=", "path=/boom status=500"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q: %s", want, logs.String())
		}
	}
}

func TestRecoverJSONAfterTheAnswerStartedAddsNothing(t *testing.T) {
	var logs bytes.Buffer
	r := newEngine(&logs)
	r.GET("/late", func(c *gin.Context) {
		c.String(http.StatusOK, "partial")
		panic("after writing")
	})
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/late", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "partial" {
		t.Errorf("got %d %q, want the 200 already written and nothing more", rec.Code, rec.Body)
	}
}

func TestRecoverJSONPassesOnErrAbortHandler(t *testing.T) {
	var logs bytes.Buffer
	r := newEngine(&logs)
	r.GET("/abort", func(*gin.Context) { panic(http.ErrAbortHandler) })
	defer func() {
		if v := recover(); v == nil || !errors.Is(v.(error), http.ErrAbortHandler) {
			t.Errorf("recovered %v, want http.ErrAbortHandler passed on to the server", v)
		}
	}()
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/abort", nil))
}

func TestLogRequestsOmitsQueryAndHeaders(t *testing.T) {
	var logs bytes.Buffer
	r := newEngine(&logs)
	r.GET("/x", func(c *gin.Context) { c.Status(http.StatusNoContent) })

	req := httptest.NewRequest(http.MethodGet, "/x?client_secret=s3cr3t", nil)
	req.Header.Set("Authorization", "Bearer tok3n")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	r.ServeHTTP(httptest.NewRecorder(), req)
	got := logs.String()
	for _, want := range []string{"msg=request", "method=GET", "path=/x", "status=204", "duration=", "remote=192.0.2.1"} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q lacks %q", got, want)
		}
	}
	for _, leak := range []string{"s3cr3t", "tok3n", "client_secret", "203.0.113.9"} {
		if strings.Contains(got, leak) {
			t.Errorf("log %q contains %q", got, leak)
		}
	}
}

func TestHealthProbesLogOnlyAtDebug(t *testing.T) {
	var logs bytes.Buffer
	r := newEngine(&logs)
	for _, p := range []string{"/healthz", "/readyz", "/x"} {
		r.GET(p, func(c *gin.Context) { c.Status(http.StatusOK) })
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
	}
	got := logs.String()
	if strings.Contains(got, "path=/healthz") || strings.Contains(got, "path=/readyz") {
		t.Errorf("health probes logged at Info: %s", got)
	}
	if !strings.Contains(got, "path=/x") {
		t.Errorf("ordinary request not logged: %s", got)
	}
}

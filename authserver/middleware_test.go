package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestRecoveryAnswersJSON500WithoutInternals(t *testing.T) {
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(logRequests(logger), recoverJSON(logger))
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

func TestRequestLogOmitsQueryAndHeaders(t *testing.T) {
	logs := &syncBuffer{}
	r := gin.New()
	r.Use(logRequests(slog.New(slog.NewTextHandler(logs, nil))))
	r.GET("/x", func(c *gin.Context) { c.Status(http.StatusNoContent) })

	req := httptest.NewRequest(http.MethodGet, "/x?client_secret=s3cr3t", nil)
	req.Header.Set("Authorization", "Bearer tok3n")
	r.ServeHTTP(httptest.NewRecorder(), req)
	got := logs.String()
	for _, want := range []string{"msg=request", "method=GET", "path=/x", "status=204", "duration="} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q lacks %q", got, want)
		}
	}
	for _, leak := range []string{"s3cr3t", "tok3n", "client_secret"} {
		if strings.Contains(got, leak) {
			t.Errorf("log %q contains %q", got, leak)
		}
	}
}

func TestHealthProbesLogOnlyAtDebug(t *testing.T) {
	logs := &syncBuffer{}
	r := gin.New()
	r.Use(logRequests(slog.New(slog.NewTextHandler(logs, nil)))) // default level: Info
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

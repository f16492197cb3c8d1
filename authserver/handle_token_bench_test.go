package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkTokenEndpoint is one successful client_secret_basic request
// through the whole handler: routing, middleware, form parsing, client
// authentication, failure-budget bookkeeping, signing and JSON encoding.
func BenchmarkTokenEndpoint(b *testing.B) {
	h := newTestHandler(b, time.Hour)
	authz := basicHeader("ApiClient", "secret")
	body := form("grant_type", "client_credentials")
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/connect/token", strings.NewReader(body))
		req.Header.Set("Content-Type", formType)
		req.Header.Set("Authorization", authz)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status = %d %s, want 200", rec.Code, rec.Body)
		}
	}
}

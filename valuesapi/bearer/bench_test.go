package bearer_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tokenbearer/valuesapi/bearer/bearertest"
)

// BenchmarkValidate measures the per-request cost of checking a valid token: parse, header rules, key lookup,
// signature and claims.
func BenchmarkValidate(b *testing.B) {
	a := bearertest.NewAuthority(b)
	v := newValidator(b, a.URL, nil)
	waitReady(b, v)
	token := a.Token(b, audience, audience)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Validate(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequire measures a whole admitted request through the Gin middleware.
func BenchmarkRequire(b *testing.B) {
	a, _, h := hostileServer(b, nil)
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set("Authorization", "Bearer "+a.Token(b, audience, audience))
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

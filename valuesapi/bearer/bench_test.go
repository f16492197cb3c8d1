package bearer_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tokenbearer/valuesapi/bearer"
	"github.com/tokenbearer/valuesapi/bearer/bearertest"
)

// Compare each pair to see what the token cache saves per request:
//
//	go test -run='^$' -bench='Validate|Require' -benchmem ./bearer

// cacheOff turns the token cache off, so every request parses, looks the key up and verifies the signature.
func cacheOff(c *bearer.Config) { c.TokenCacheSize = -1 }

// BenchmarkValidate measures the per-request cost of checking a valid token in full: parse, header rules, key
// lookup, signature and claims.
func BenchmarkValidate(b *testing.B) { benchmarkValidate(b, cacheOff) }

// BenchmarkValidateCached measures the same token answered from the token cache: hash, lookup, time checks, a
// copy of the claims.
func BenchmarkValidateCached(b *testing.B) { benchmarkValidate(b, nil) }

func benchmarkValidate(b *testing.B, edit func(*bearer.Config)) {
	a := bearertest.NewAuthority(b)
	v := newValidator(b, a.URL, edit)
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

// BenchmarkRequireUncached measures a whole admitted request through the Gin middleware with the cache off.
func BenchmarkRequireUncached(b *testing.B) { benchmarkRequire(b, cacheOff) }

// BenchmarkRequireCached is the same request with the cache on (the default): every request after the first is a hit.
func BenchmarkRequireCached(b *testing.B) { benchmarkRequire(b, nil) }

func benchmarkRequire(b *testing.B, edit func(*bearer.Config)) {
	a, _, h := hostileServer(b, edit)
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

package bearer_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tokenbearer/valuesapi/bearer"
	"github.com/tokenbearer/valuesapi/bearer/bearertest"
)

// floodResult is what one request of a flood saw.
type floodResult struct {
	status    int
	challenge string
	// late is set when the request was still running after its own deadline had passed by more than slack.
	late bool
}

// flood sends n concurrent GET /x requests, each with a fresh random kid (so each one misses the key cache), each
// under a context deadline of deadline, and returns what every request got and how long the whole flood took.
// The tokens are never signed: the kid lookup happens before signature verification, and an unknown kid must be
// refused by that lookup alone.
func flood(t *testing.T, a *bearertest.Authority, h http.Handler, n int, deadline, slack time.Duration) ([]floodResult, time.Duration) {
	t.Helper()
	claims := segJSON(t, a.Claims(audience, audience))
	sig := seg(make([]byte, 256))
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = segJSON(t, map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": rand.Text()}) + "." + claims + "." + sig
	}
	results := make([]floodResult, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			late, cancelLate := context.WithTimeout(context.Background(), deadline+slack)
			defer cancelLate()
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/x", nil)
			req.Header.Set("Authorization", "Bearer "+tokens[i])
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			results[i] = floodResult{rec.Code, rec.Header().Get("WWW-Authenticate"), late.Err() != nil}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	return results, time.Since(began)
}

func checkFlood(t *testing.T, results []floodResult) {
	t.Helper()
	const prefix = `Bearer error="invalid_token", error_description=`
	var late, wrong int
	for _, r := range results {
		if r.late {
			late++
		}
		if r.status != http.StatusUnauthorized || len(r.challenge) < len(prefix) || r.challenge[:len(prefix)] != prefix {
			wrong++
			if wrong == 1 {
				t.Errorf("got %d %s, want 401 invalid_token", r.status, r.challenge)
			}
		}
	}
	if late > 0 {
		t.Errorf("%d of %d requests ran past their deadline", late, len(results))
	}
	if wrong > 0 {
		t.Errorf("%d of %d requests did not get 401 invalid_token", wrong, len(results))
	}
}

// TestUnknownKIDFlood: 200 concurrent requests with random unknown kids cost at most one JWKS fetch per
// UnknownKIDInterval, and each gets its 401 before its deadline: the waiters do not queue up behind the limiter.
func TestUnknownKIDFlood(t *testing.T) {
	const interval = 100 * time.Millisecond
	a, _, h := hostileServer(t, func(c *bearer.Config) {
		c.UnknownKIDInterval = interval
		c.FetchTimeout = 300 * time.Millisecond
	})
	before := a.JWKSFetches()
	// The request deadline is well past FetchTimeout, so only a hang (not a slow machine) makes a request late.
	results, elapsed := flood(t, a, h, 200, 2*time.Second, 2*time.Second)
	checkFlood(t, results)

	fetches := a.JWKSFetches() - before
	if limit := 1 + int64(elapsed/interval); fetches > limit {
		t.Errorf("JWKS fetches during a %v flood: got %d, want at most %d (one per %v)", elapsed, fetches, limit, interval)
	}
	if fetches < 1 {
		t.Error("the flood never refreshed the JWKS; an unknown kid must trigger a (rate-limited) refresh")
	}

	// The valid key still works right after the flood.
	serve(t, h, []string{"Bearer " + a.Token(t, audience, audience)}, accepted)
}

// TestUnknownKIDFloodWhileJWKSStalls: with the JWKS endpoint hanging, a flood still answers every request with
// 401 no later than its deadline, a request deadline shorter than FetchTimeout is honoured, the stalled authority
// sees at most one fetch per window, and tokens with the known kid keep working from the cache.
func TestUnknownKIDFloodWhileJWKSStalls(t *testing.T) {
	const interval = time.Hour // one fetch for the whole test
	a, _, h := hostileServer(t, func(c *bearer.Config) {
		c.UnknownKIDInterval = interval
		c.FetchTimeout = time.Minute // far beyond the request deadline: the request's own deadline must win
	})
	a.Stall(true)
	before := a.JWKSFetches()
	results, _ := flood(t, a, h, 200, 300*time.Millisecond, 2*time.Second)
	checkFlood(t, results)
	if fetches := a.JWKSFetches() - before; fetches > 1 {
		t.Errorf("JWKS fetches during a flood within one window: got %d, want at most 1", fetches)
	}
	serve(t, h, []string{"Bearer " + a.Token(t, audience, audience)}, accepted)
}

package main

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenbearer/authserver/internal/secret"
	"github.com/tokenbearer/authserver/internal/throttle"
)

// TestLockedOutClientLeavesTheAddressFree: attempts refused because their
// client_id is locked out spend nothing and hold nothing of the address's
// budget, so another client at the same address still gets in however many
// of them were made.
func TestLockedOutClientLeavesTheAddressFree(t *testing.T) {
	th := newAuthThrottle(throttle.Limit{PerMinute: 1, Burst: 1}, throttle.Limit{PerMinute: 1, Burst: 3}, time.Now)
	const addr = "192.0.2.1:40000"
	end, _ := th.begin(addr, "victim")
	if end == nil {
		t.Fatal("first attempt refused")
	}
	end(true) // the victim's one failure: locked out
	for i := range 100 {
		if end, _ := th.begin(addr, "victim"); end != nil {
			t.Fatalf("attempt %d for the locked-out client_id admitted", i+1)
		}
	}
	end, wait := th.begin(addr, "other")
	if end == nil {
		t.Fatalf("another client at the address refused (wait %v) after attempts against a locked-out client_id, want admitted", wait)
	}
	end(false)
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// TestRetryAfterRoundsUp: Retry-After is the throttle's wait rounded up to
// whole seconds, so a client that obeys it is admitted; rounded down it
// would come back early and be refused again.
func TestRetryAfterRoundsUp(t *testing.T) {
	tests := []struct {
		perMinute float64
		want      string
	}{
		{7, "9"},   // 8.572 s
		{6, "10"},  // exactly 10 s
		{59, "2"},  // 1.017 s
		{120, "1"}, // 0.5 s: never 0
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			clk := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
			limit := throttle.Limit{PerMinute: tt.perMinute, Burst: 1}
			srv := newTestServerWith(t, testKeys(t), newAuthThrottle(limit, throttle.Limit{PerMinute: 60, Burst: 100}, clk.Now))
			guess := tokenRequest{basic: &[2]string{"ApiClient", "guess"}, body: form("grant_type", "client_credentials")}
			if resp, body := srv.token(t, guess); resp.StatusCode != 401 {
				t.Fatalf("first guess: got %d %s, want 401", resp.StatusCode, body)
			}
			resp, body := srv.token(t, guess)
			if resp.StatusCode != 429 {
				t.Fatalf("second guess: got %d %s, want 429", resp.StatusCode, body)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.want {
				t.Errorf("got Retry-After %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBusyClientIsNeverThrottled: the default failure budgets hold 10
// failures per client_id and 30 per address, but correct requests spend
// nothing, so 200 of one client from one address in flight at once all get a
// token (issue 8: forty pods of one service starting together).
func TestBusyClientIsNeverThrottled(t *testing.T) {
	limiter := newAuthThrottle(throttle.Limit{PerMinute: 10, Burst: 10}, throttle.Limit{PerMinute: 30, Burst: 30}, time.Now)
	srv := newTestServerWith(t, testKeys(t), limiter)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	const n = 200
	// On two cores requests rarely overlap inside authentication on their
	// own; hold each one at the secret check until all n are inside it (or,
	// should the throttle refuse some, until a bound passes), so that they
	// really are in flight together.
	var inside sync.WaitGroup
	inside.Add(n)
	allInside := make(chan struct{})
	go func() { inside.Wait(); close(allInside) }()
	orig := matchSecret
	matchSecret = func(hashes []secret.Hash, plain string) bool {
		inside.Done()
		select {
		case <-allInside:
		case <-time.After(5 * time.Second):
		}
		return orig(hashes, plain)
	}
	t.Cleanup(func() { matchSecret = orig })
	statuses := make(chan int, n)
	var ready, done sync.WaitGroup
	ready.Add(n)
	for range n {
		done.Go(func() {
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/connect/token",
				strings.NewReader(form("grant_type", "client_credentials", "client_id", "ApiClient", "client_secret", "secret")))
			if err != nil {
				statuses <- 0
				ready.Done()
				return
			}
			req.Header.Set("Content-Type", formType)
			ready.Done()
			ready.Wait() // all 200 sent together
			resp, err := client.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	done.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	if counts[http.StatusOK] != n {
		t.Fatalf("got answers %v, want all %d 200 (no 429 for correct secrets)", counts, n)
	}
}

package main

import (
	"sync"
	"testing"
	"time"

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

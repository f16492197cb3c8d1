package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenbearer/authserver/internal/redistest"
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

// TestReplicasShareTheFailureBudget: two servers (replicas) on one Redis
// store spend from one budget: guesses at replica A lock the client_id out
// at replica B, and B's Retry-After counts A's failures.
func TestReplicasShareTheFailureBudget(t *testing.T) {
	store := redistest.Start(t)
	clk := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	perClient := throttle.Limit{PerMinute: 6, Burst: 3}
	replica := func() *testServer {
		return newTestServerWith(t, testKeys(t), newSharedAuthThrottle(store.Client(t), perClient, lenient, clk.Now, slog.New(slog.DiscardHandler)))
	}
	a, b := replica(), replica()
	guess := tokenRequest{basic: &[2]string{"ApiClient", "guess"}, body: form("grant_type", "client_credentials")}
	for i := range 3 {
		if resp, body := a.token(t, guess); resp.StatusCode != 401 {
			t.Fatalf("guess %d at replica A: got %d %s, want 401", i+1, resp.StatusCode, body)
		}
	}
	right := tokenRequest{basic: &[2]string{"ApiClient", "secret"}, body: form("grant_type", "client_credentials")}
	resp, body := b.token(t, right)
	if resp.StatusCode != 429 {
		t.Fatalf("replica B after A spent the budget: got %d %s, want 429", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Retry-After"); got != "10" {
		t.Errorf("replica B: got Retry-After %q, want \"10\"", got)
	}
	clk.mu.Lock()
	clk.t = clk.t.Add(10 * time.Second)
	clk.mu.Unlock()
	if resp, body := b.token(t, right); resp.StatusCode != 200 {
		t.Fatalf("replica B once a token refilled: got %d %s, want 200", resp.StatusCode, body)
	}
}

// TestReplicasShareTheAddressBudget: the per-address budget is shared too,
// across client ids, and a process-local throttle shares nothing.
func TestReplicasShareTheAddressBudget(t *testing.T) {
	store := redistest.Start(t)
	perAddr := throttle.Limit{PerMinute: 1, Burst: 2}
	a := newSharedAuthThrottle(store.Client(t), lenient, perAddr, time.Now, slog.New(slog.DiscardHandler))
	b := newSharedAuthThrottle(store.Client(t), lenient, perAddr, time.Now, slog.New(slog.DiscardHandler))
	const addr = "198.51.100.7:5000"
	for _, th := range []*authThrottle{a, b} {
		end, _ := th.begin(addr, "c1")
		if end == nil {
			t.Fatal("a failure within the address's burst refused")
		}
		end(true)
	}
	if end, wait := b.begin(addr, "c2"); end != nil || wait <= 0 {
		t.Fatalf("replica B after one failure at each replica: got admitted %v, wait %v; want refused", end != nil, wait)
	}
	local := newAuthThrottle(lenient, perAddr, time.Now)
	if end, _ := local.begin(addr, "c2"); end == nil {
		t.Fatal("a per-process throttle refused an address that failed elsewhere")
	}
}

// TestStoreStartupErrors: a --store that is not a Redis URL, or a Redis
// that does not answer at start, stops serve with an error naming the
// store, and never prints the store's password.
func TestStoreStartupErrors(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	tests := []struct {
		name, store, wantErr string
	}{
		{"not a redis URL", "http://127.0.0.1:6379/0", "store:"},
		{"bad database", "redis://127.0.0.1:6379/x", "store:"},
		{"nothing listening", fmt.Sprintf("redis://:hunter2@127.0.0.1:%d/0", port), "not reachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			err := run(context.Background(), []string{"authserver", "--addr", "127.0.0.1:0"},
				envFrom(map[string]string{"AUTHSERVER_STORE": tt.store, "AUTHSERVER_KEY_ENCRYPTION_KEY": testEncryptionKey}), io.Discard, &logs)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("run error = %v, want containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error()+logs.String(), "hunter2") {
				t.Errorf("the store's password was printed: %v\n%s", err, logs.String())
			}
		})
	}
}

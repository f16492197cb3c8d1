package bearer

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoadLoopBacksOffAndWarnsOncePerWindow runs the start-up loop against an authority that answers 500 on a
// fake clock: the delays double from backoffMin to backoffMax and stay there (a down authority is not hammered),
// every delay is one more discovery request, and the warning that says why is logged for the first failure and
// then once per refreshLogEvery with the number of attempts it held back.
func TestLoadLoopBacksOffAndWarnsOncePerWindow(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	var logs bytes.Buffer // loadLoop runs on the test goroutine, so no lock is needed
	v, err := newValidator(Config{Authority: srv.URL, Audience: "api", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	const attempts = 20
	now := time.Unix(1000, 0)
	var delays []time.Duration
	v.retry.now = func() time.Time { return now }
	v.retry.wait = func(_ context.Context, d time.Duration) bool {
		delays = append(delays, d)
		now = now.Add(d)
		return len(delays) < attempts // the last wait plays the shutdown that ends the loop
	}
	v.loadLoop(context.Background())

	s, ms := time.Second, time.Millisecond
	want := []time.Duration{250 * ms, 500 * ms, s, 2 * s, 4 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s, 5 * s}
	if !slices.Equal(delays, want) {
		t.Errorf("delays:\n got %v\nwant %v", delays, want)
	}
	if got := hits.Load(); got != attempts {
		t.Errorf("discovery requests: got %d, want %d, one per attempt", got, attempts)
	}

	// Attempt n runs at the sum of the delays before it: 0, 0.25 s, 0.75 s, ... 57.75 s (attempt 16), 62.75 s
	// (attempt 17), 92.75 s (attempt 20). Only attempts 1 and 17 open a one-minute window.
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("log lines: got %d, want 2 (attempts 1 and 17):\n%s", len(lines), logs.String())
	}
	for i, want := range []string{"attempt=1 ", "attempt=17 "} {
		line := lines[i]
		for _, w := range []string{"level=WARN", `msg="signing keys not loaded, retrying"`, want, "status 500, want 200", srv.URL} {
			if !strings.Contains(line, w) {
				t.Errorf("log line %d: got %s, want it to contain %q", i+1, line, w)
			}
		}
	}
	if !strings.Contains(lines[1], "suppressed=15") {
		t.Errorf("second log line: got %s, want suppressed=15 (attempts 2 to 16)", lines[1])
	}
	if err := v.NotReady(); err == nil || !strings.Contains(err.Error(), "status 500") {
		t.Errorf("NotReady: got %v, want the status 500", err)
	}
}

// TestSleep: the real wait reports whether it slept the whole delay or was ended by its context.
func TestSleep(t *testing.T) {
	if !sleep(context.Background(), time.Millisecond) {
		t.Error("sleep with a live context: got false, want true")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if sleep(ctx, time.Hour) {
		t.Error("sleep with a done context: got true, want false")
	}
}

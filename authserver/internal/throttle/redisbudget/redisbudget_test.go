package redisbudget_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenbearer/authserver/internal/redistest"
	"github.com/tokenbearer/authserver/internal/throttle"
	"github.com/tokenbearer/authserver/internal/throttle/redisbudget"
	"github.com/tokenbearer/authserver/internal/throttle/throttletest"
)

var prefixes atomic.Int64

// newPrefix returns a key prefix no other budgets of the test binary use.
func newPrefix() string { return fmt.Sprintf("test:%d:", prefixes.Add(1)) }

func TestRedis(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	throttletest.Run(t, func(l throttle.Limit, now func() time.Time) throttle.Budgets {
		return redisbudget.New(rdb, newPrefix(), l, now, throttle.New(l, 100, now), slog.New(slog.DiscardHandler))
	})
}

// TestReplicasShareOneBudget: budgets of two processes on one Redis and
// prefix spend from one bucket, the refill included.
func TestReplicasShareOneBudget(t *testing.T) {
	srv := redistest.Start(t)
	clk := throttletest.NewClock()
	l := throttle.Limit{PerMinute: 6, Burst: 4}
	prefix := newPrefix()
	a := redisbudget.New(srv.Client(t), prefix, l, clk.Now, throttle.New(l, 100, clk.Now), slog.New(slog.DiscardHandler))
	b := redisbudget.New(srv.Client(t), prefix, l, clk.Now, throttle.New(l, 100, clk.Now), slog.New(slog.DiscardHandler))
	throttletest.Fail(a, "k")
	throttletest.Fail(b, "k")
	throttletest.Fail(a, "k")
	throttletest.Fail(b, "k")
	for name, r := range map[string]*redisbudget.Budgets{"a": a, "b": b} {
		if ok, wait := r.Allow("k"); ok || wait != 10*time.Second {
			t.Errorf("replica %s after 2+2 failures of a burst of 4: Allow = %v, %v; want false, 10s", name, ok, wait)
		}
	}
	clk.Advance(10 * time.Second)
	if !throttletest.Fail(b, "k") {
		t.Fatal("replica b refused after one token refilled")
	}
	if ok, _ := a.Allow("k"); ok {
		t.Fatal("replica a allowed the token replica b spent")
	}
	var wg sync.WaitGroup // and concurrent failures from both lose no update
	for range 100 {
		wg.Go(func() { a.Fail("j") })
		wg.Go(func() { b.Fail("j") })
	}
	wg.Wait()
	if ok, wait := a.Allow("j"); ok || wait != 197*10*time.Second {
		t.Errorf("after 200 concurrent failures of a burst of 4: Allow = %v, %v; want false, %v (4 - 200 + 197 = 1)", ok, wait, 197*10*time.Second)
	}
}

// TestBucketsExpireOnceFull: Redis forgets a bucket once it would be full
// again (plus a second), so the keys of an attack do not pile up.
func TestBucketsExpireOnceFull(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	clk := throttletest.NewClock()
	prefix := newPrefix()
	l := throttle.Limit{PerMinute: 60, Burst: 3}
	b := redisbudget.New(rdb, prefix, l, clk.Now, throttle.New(l, 100, clk.Now), slog.New(slog.DiscardHandler))
	b.Fail("k")
	b.Fail("k") // 2 short of full: 2 s to refill
	ttl, err := rdb.PTTL(context.Background(), prefix+"k").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 2*time.Second || ttl > 3*time.Second {
		t.Errorf("got PTTL %v, want just under 3s (2 s of refill + 1 s of slack)", ttl)
	}
	tiny := redisbudget.New(rdb, prefix, throttle.Limit{PerMinute: 1e-300, Burst: 1}, clk.Now,
		throttle.New(l, 100, clk.Now), slog.New(slog.DiscardHandler))
	tiny.Fail("tiny")
	if ttl, err := rdb.PTTL(context.Background(), prefix+"tiny").Result(); err != nil || ttl <= 29*24*time.Hour || ttl > 30*24*time.Hour {
		t.Errorf("tiny rate: got PTTL %v, %v; want the 30 day cap", ttl, err)
	}
}

// TestLaggingClockNeverRefills: a replica whose clock is behind the one
// that last failed sees no refill, and does not move the bucket's time back.
func TestLaggingClockNeverRefills(t *testing.T) {
	srv := redistest.Start(t)
	ahead, behind := throttletest.NewClock(), throttletest.NewClock()
	ahead.Advance(5 * time.Second)
	l := throttle.Limit{PerMinute: 60, Burst: 1}
	prefix := newPrefix()
	a := redisbudget.New(srv.Client(t), prefix, l, ahead.Now, throttle.New(l, 100, ahead.Now), slog.New(slog.DiscardHandler))
	b := redisbudget.New(srv.Client(t), prefix, l, behind.Now, throttle.New(l, 100, behind.Now), slog.New(slog.DiscardHandler))
	a.Fail("k")
	if ok, wait := b.Allow("k"); ok || wait != 6*time.Second {
		t.Errorf("lagging replica: Allow = %v, %v; want false, 6s (1 s of refill after its clock reaches the failure)", ok, wait)
	}
	b.Fail("k")                // at a time before the last failure: t stays
	ahead.Advance(time.Second) // 1 s of refill since the bucket's time: -1 + 1 = 0 tokens
	if ok, wait := a.Allow("k"); ok || wait != time.Second {
		t.Errorf("after a lagging failure: Allow = %v, %v; want false, 1s", ok, wait)
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOutageFallsBackToThisProcess: with Redis gone mid-run, Allow and Fail
// neither panic nor block, valid clients are let through, failures keep
// being limited by this process's budget, and one Warn is logged a minute.
func TestOutageFallsBackToThisProcess(t *testing.T) {
	srv := redistest.Start(t)
	clk := throttletest.NewClock()
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	l := throttle.Limit{PerMinute: 6, Burst: 3}
	b := redisbudget.New(srv.Client(t), newPrefix(), l, clk.Now, throttle.New(l, 100, clk.Now), logger)
	throttletest.Fail(b, "k") // in Redis
	srv.Stop()

	start := time.Now()
	if ok, wait := b.Allow("ok"); !ok {
		t.Fatalf("a key without failures refused in the outage (wait %v)", wait)
	}
	for i := range 3 { // the fallback's own full burst
		if !throttletest.Fail(b, "k") {
			t.Fatalf("failure %d of the fallback's burst refused", i+1)
		}
	}
	if ok, wait := b.Allow("k"); ok || wait != 10*time.Second {
		t.Fatalf("in the outage after the burst: Allow = %v, %v; want false, 10s", ok, wait)
	}
	if ok, _ := b.Allow("other"); !ok {
		t.Fatal("another key refused in the outage")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the outage made calls take %v", took)
	}
	if got := strings.Count(logs.String(), "level=WARN"); got != 1 {
		t.Fatalf("got %d warnings, want 1:\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), "Redis unreachable") {
		t.Errorf("the warning does not say what happened:\n%s", logs.String())
	}
	clk.Advance(30 * time.Second) // past the retry, within the minute
	b.Fail("j")
	b.Allow("j")
	if got := strings.Count(logs.String(), "level=WARN"); got != 1 {
		t.Fatalf("got %d warnings within a minute, want 1:\n%s", got, logs.String())
	}
	clk.Advance(31 * time.Second)
	b.Allow("j")
	if got := strings.Count(logs.String(), "level=WARN"); got != 2 {
		t.Fatalf("got %d warnings after a minute, want 2:\n%s", got, logs.String())
	}
}

// TestOutageFailuresCountAfterRecovery: failures counted in this process
// during an outage keep limiting the key once Redis answers again.
func TestOutageFailuresCountAfterRecovery(t *testing.T) {
	srv := redistest.Start(t)
	clk := throttletest.NewClock()
	l := throttle.Limit{PerMinute: 6, Burst: 1}
	fallback := throttle.New(l, 100, clk.Now)
	b := redisbudget.New(srv.Client(t), newPrefix(), l, clk.Now, fallback, slog.New(slog.DiscardHandler))
	fallback.Fail("k") // as if failed during an outage
	if ok, wait := b.Allow("k"); ok || wait != 10*time.Second {
		t.Fatalf("Allow = %v, %v; want false, 10s from the failure the fallback counted", ok, wait)
	}
}

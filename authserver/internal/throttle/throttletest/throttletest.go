// Package throttletest is the behaviour every throttle.Budgets must have,
// as one suite run against each implementation: the in-memory
// throttle.Failures and the Redis one (redisbudget).
package throttletest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenbearer/authserver/internal/throttle"
)

// NewBudgets returns empty budgets giving every key l, on the clock now.
// Each call must return budgets sharing no key with those of earlier calls.
type NewBudgets func(l throttle.Limit, now func() time.Time) throttle.Budgets

// Clock is a manual clock for tests, starting on a whole second.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at 2025-01-01 00:00:00 UTC.
func NewClock() *Clock { return &Clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Fail runs one failed attempt for key and reports whether it was allowed.
func Fail(b throttle.Budgets, key string) bool {
	ok, _ := b.Allow(key)
	if ok {
		b.Fail(key)
	}
	return ok
}

// Run runs the suite against the budgets newBudgets makes.
func Run(t *testing.T, newBudgets NewBudgets) {
	tests := []struct {
		name string
		test func(*testing.T, NewBudgets)
	}{
		{"BurstThenRefusedThenRefilled", testBurstThenRefusedThenRefilled},
		{"SuccessesSpendNothing", testSuccessesSpendNothing},
		{"KeysAreIndependent", testKeysAreIndependent},
		{"BusyKeyIsNeverRefused", testBusyKeyIsNeverRefused},
		{"FailuresInFlightGoIntoDebt", testFailuresInFlightGoIntoDebt},
		{"LongRunFailureRate", testLongRunFailureRate},
		{"WaitIsEnoughAndRoundsUp", testWaitIsEnoughAndRoundsUp},
		{"TinyRateWaitIsCapped", testTinyRateWaitIsCapped},
		{"RefilledKeyIsLikeNew", testRefilledKeyIsLikeNew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, newBudgets) })
	}
}

func testBurstThenRefusedThenRefilled(t *testing.T, newBudgets NewBudgets) {
	clk := NewClock()
	f := newBudgets(throttle.Limit{PerMinute: 6, Burst: 3}, clk.Now) // one token per 10 s
	for i := range 3 {
		if !Fail(f, "k") {
			t.Fatalf("failure %d refused within the burst", i+1)
		}
	}
	ok, wait := f.Allow("k")
	if ok || wait != 10*time.Second {
		t.Fatalf("after the burst: Allow = %v, %v; want false, 10s", ok, wait)
	}
	clk.Advance(4 * time.Second)
	if ok, wait := f.Allow("k"); ok || wait != 6*time.Second {
		t.Fatalf("4 s later: Allow = %v, %v; want false, 6s", ok, wait)
	}
	clk.Advance(6 * time.Second)
	if !Fail(f, "k") {
		t.Fatal("refused after one token refilled")
	}
	if ok, _ := f.Allow("k"); ok {
		t.Fatal("allowed with the refilled token already spent")
	}
}

func testSuccessesSpendNothing(t *testing.T, newBudgets NewBudgets) {
	clk := NewClock()
	f := newBudgets(throttle.Limit{PerMinute: 1, Burst: 1}, clk.Now)
	for i := range 100 {
		if ok, _ := f.Allow("k"); !ok {
			t.Fatalf("success %d refused", i+1)
		}
	}
	if !Fail(f, "k") {
		t.Fatal("the one failure of the burst was refused")
	}
	if ok, _ := f.Allow("k"); ok {
		t.Fatal("allowed after the budget was spent")
	}
}

func testKeysAreIndependent(t *testing.T, newBudgets NewBudgets) {
	clk := NewClock()
	f := newBudgets(throttle.Limit{PerMinute: 1, Burst: 2}, clk.Now)
	Fail(f, "a")
	Fail(f, "a")
	if ok, _ := f.Allow("a"); ok {
		t.Fatal("a allowed past its budget")
	}
	if !Fail(f, "b") {
		t.Fatal("b refused because of a's failures")
	}
}

// testBusyKeyIsNeverRefused: checking reserves nothing, so however many
// attempts of one key are in flight at once, with the budget down to its
// last token, every one of them is let through.
func testBusyKeyIsNeverRefused(t *testing.T, newBudgets NewBudgets) {
	clk := NewClock()
	f := newBudgets(throttle.Limit{PerMinute: 1, Burst: 2}, clk.Now)
	Fail(f, "k") // one token left
	var refused atomic.Int64
	var checked, done sync.WaitGroup
	checked.Add(500)
	for range 500 {
		done.Go(func() {
			ok, _ := f.Allow("k")
			checked.Done()
			checked.Wait() // all 500 in flight together
			if !ok {
				refused.Add(1)
			}
		})
	}
	done.Wait()
	if got := refused.Load(); got != 0 {
		t.Fatalf("%d of 500 concurrent attempts refused with a token left, want 0", got)
	}
}

// testFailuresInFlightGoIntoDebt: wrong guesses in flight together may all
// find the last token, but each one spends: the overshoot is paid back before
// the key is let through again.
func testFailuresInFlightGoIntoDebt(t *testing.T, newBudgets NewBudgets) {
	clk := NewClock()
	f := newBudgets(throttle.Limit{PerMinute: 60, Burst: 5}, clk.Now) // one token a second
	var allowed atomic.Int64
	var checked, done sync.WaitGroup
	checked.Add(50)
	for range 50 {
		done.Go(func() {
			ok, _ := f.Allow("k")
			checked.Done()
			checked.Wait() // every guess checked before any has failed
			if ok {
				allowed.Add(1)
				f.Fail("k")
			}
		})
	}
	done.Wait()
	if got := allowed.Load(); got != 50 {
		t.Fatalf("%d of 50 guesses in flight allowed, want all 50 (the overshoot is the number in flight)", got)
	}
	// 5 - 50 = -45 tokens: 46 s until one whole token is back.
	if ok, wait := f.Allow("k"); ok || wait != 46*time.Second {
		t.Fatalf("after 50 failures with a burst of 5: Allow = %v, %v; want false, 46s", ok, wait)
	}
	clk.Advance(45 * time.Second)
	if ok, _ := f.Allow("k"); ok {
		t.Fatal("allowed before the debt was paid")
	}
	clk.Advance(time.Second)
	if !Fail(f, "k") {
		t.Fatal("refused once the debt was paid")
	}
}

// testLongRunFailureRate: an attacker who keeps inFlight guesses going at
// all times, starting a new one whenever Allow lets it, gets no more than the
// burst, plus the guesses in flight, plus the configured rate over the run.
// Without the debt each refilled token would let a whole window of guesses in.
func testLongRunFailureRate(t *testing.T, newBudgets NewBudgets) {
	const (
		perMinute = 6
		burst     = 3
		inFlight  = 10
		run       = 10 * time.Minute
		step      = 100 * time.Millisecond
	)
	clk := NewClock()
	f := newBudgets(throttle.Limit{PerMinute: perMinute, Burst: burst}, clk.Now)
	var pending []time.Time // when each guess in flight will fail
	failures := 0
	for elapsed := time.Duration(0); elapsed < run; elapsed += step {
		for len(pending) > 0 && !pending[0].After(clk.Now()) {
			f.Fail("k")
			failures++
			pending = pending[1:]
		}
		for len(pending) < inFlight {
			if ok, _ := f.Allow("k"); !ok {
				break
			}
			pending = append(pending, clk.Now().Add(time.Second)) // a guess takes 1 s to fail
		}
		clk.Advance(step)
	}
	failures += len(pending)
	maxFailures := burst + inFlight + int(run.Minutes()*perMinute)
	if failures > maxFailures {
		t.Errorf("got %d failures in %v, want at most %d (burst %d + %d in flight + %d a minute)",
			failures, run, maxFailures, burst, inFlight, perMinute)
	}
	if minFailures := int(run.Minutes() * perMinute); failures < minFailures {
		t.Errorf("got %d failures in %v, want at least %d: the configured rate must stay available", failures, run, minFailures)
	}
}

// testWaitIsEnoughAndRoundsUp: the wait a refused Allow returns is positive,
// a whole millisecond, and exactly enough: one millisecond earlier the key is
// still refused, at the wait it is admitted. Rounding to the nearest
// millisecond instead would send clients back a fraction of a token early.
func testWaitIsEnoughAndRoundsUp(t *testing.T, newBudgets NewBudgets) {
	tests := []struct {
		name      string
		perMinute float64
		elapsed   time.Duration // since the burst of 1 was spent
		want      time.Duration
	}{
		{"6 a minute", 6, 0, 10 * time.Second},
		{"6 a minute, 4 s later", 6, 4 * time.Second, 6 * time.Second},
		{"7 a minute (8.5714... s)", 7, 0, 8572 * time.Millisecond},
		{"13 a minute (4.6153... s)", 13, 0, 4616 * time.Millisecond},
		{"0.7 a minute (85.714... s)", 0.7, 0, 85715 * time.Millisecond},
		{"60 a minute, 0.3 ms short", 60, 999700 * time.Microsecond, time.Millisecond},
		{"60 a minute, 1 ns short", 60, time.Second - 1, time.Millisecond},
		{"a million a minute (60 us)", 1e6, 0, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := NewClock()
			f := newBudgets(throttle.Limit{PerMinute: tt.perMinute, Burst: 1}, clk.Now)
			if !Fail(f, "k") {
				t.Fatal("the one failure of the burst was refused")
			}
			clk.Advance(tt.elapsed)
			ok, wait := f.Allow("k")
			if ok {
				t.Fatal("allowed with the budget spent")
			}
			if wait != tt.want {
				t.Errorf("got wait %v, want %v", wait, tt.want)
			}
			if wait <= 0 || wait%time.Millisecond != 0 {
				t.Fatalf("got wait %v, want a positive whole millisecond", wait)
			}
			clk.Advance(wait - time.Millisecond)
			if ok, _ := f.Allow("k"); ok {
				t.Errorf("admitted 1 ms before the wait of %v was over: the wait is too long", wait)
			}
			clk.Advance(time.Millisecond)
			if ok, again := f.Allow("k"); !ok {
				t.Errorf("refused after waiting the %v Allow asked for (now asks %v more)", wait, again)
			}
		})
	}
}

// testTinyRateWaitIsCapped: a rate so small that the refill time overflows
// a time.Duration once hung Allow, under its lock, in the loop that rounds
// the wait up.
func testTinyRateWaitIsCapped(t *testing.T, newBudgets NewBudgets) {
	for _, perMinute := range []float64{1e-9, 1e-300, 5e-324} {
		clk := NewClock()
		f := newBudgets(throttle.Limit{PerMinute: perMinute, Burst: 1}, clk.Now)
		if !Fail(f, "k") {
			t.Fatal("the one failure of the burst was refused")
		}
		ok, wait := f.Allow("k")
		if ok || wait != 24*time.Hour {
			t.Errorf("%g a minute: got %v, %v; want refused with the capped wait", perMinute, ok, wait)
		}
	}
}

// testRefilledKeyIsLikeNew: a bucket that has refilled holds no more than
// its burst, however long the key was left alone.
func testRefilledKeyIsLikeNew(t *testing.T, newBudgets NewBudgets) {
	clk := NewClock()
	f := newBudgets(throttle.Limit{PerMinute: 60, Burst: 2}, clk.Now)
	Fail(f, "k")
	clk.Advance(time.Hour)
	for i := range 2 {
		if !Fail(f, "k") {
			t.Fatalf("failure %d of a refilled burst refused", i+1)
		}
	}
	if ok, wait := f.Allow("k"); ok || wait != time.Second {
		t.Fatalf("after a refilled burst of 2: Allow = %v, %v; want false, 1s (the bucket is capped at its burst)", ok, wait)
	}
}

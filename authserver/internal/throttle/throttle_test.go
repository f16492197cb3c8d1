package throttle

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a manual clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fail runs one failed attempt for key and reports whether it was admitted.
func fail(f *Failures, key string) bool {
	ok, _ := f.Admit(key)
	if ok {
		f.Done(key, true)
	}
	return ok
}

func TestBurstThenRefusedThenRefilled(t *testing.T) {
	clk := newClock()
	f := New(Limit{PerMinute: 6, Burst: 3}, 100, clk.Now) // one token per 10 s
	for i := range 3 {
		if !fail(f, "k") {
			t.Fatalf("failure %d refused within the burst", i+1)
		}
	}
	ok, wait := f.Admit("k")
	if ok || wait != 10*time.Second {
		t.Fatalf("after the burst: Admit = %v, %v; want false, 10s", ok, wait)
	}
	clk.Advance(4 * time.Second)
	if ok, wait := f.Admit("k"); ok || wait != 6*time.Second {
		t.Fatalf("4 s later: Admit = %v, %v; want false, 6s", ok, wait)
	}
	clk.Advance(6 * time.Second)
	if !fail(f, "k") {
		t.Fatal("refused after one token refilled")
	}
	if ok, _ := f.Admit("k"); ok {
		t.Fatal("admitted with the refilled token already spent")
	}
}

func TestSuccessesSpendNothing(t *testing.T) {
	clk := newClock()
	f := New(Limit{PerMinute: 1, Burst: 1}, 100, clk.Now)
	for i := range 100 {
		ok, _ := f.Admit("k")
		if !ok {
			t.Fatalf("success %d refused", i+1)
		}
		f.Done("k", false)
	}
	if !fail(f, "k") {
		t.Fatal("the one failure of the burst was refused")
	}
	if ok, _ := f.Admit("k"); ok {
		t.Fatal("admitted after the budget was spent")
	}
}

func TestKeysAreIndependent(t *testing.T) {
	clk := newClock()
	f := New(Limit{PerMinute: 1, Burst: 2}, 100, clk.Now)
	fail(f, "a")
	fail(f, "a")
	if ok, _ := f.Admit("a"); ok {
		t.Fatal("a admitted past its budget")
	}
	if !fail(f, "b") {
		t.Fatal("b refused because of a's failures")
	}
}

func TestPendingAttemptsHoldATokenEach(t *testing.T) {
	clk := newClock()
	f := New(Limit{PerMinute: 60, Burst: 2}, 100, clk.Now)
	ok1, _ := f.Admit("k")
	ok2, _ := f.Admit("k")
	ok3, wait := f.Admit("k")
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("admitted %v %v %v with burst 2, want true true false", ok1, ok2, ok3)
	}
	if wait != time.Second {
		t.Errorf("wait = %v, want 1s", wait)
	}
	f.Done("k", false) // the first one succeeded: its token is free again
	if ok, _ := f.Admit("k"); !ok {
		t.Fatal("refused after a pending attempt succeeded")
	}
}

// TestConcurrentFailuresNeverExceedBurst: however many attempts are in
// flight at once, only Burst are admitted, since each pending one holds a
// token until it is done.
func TestConcurrentFailuresNeverExceedBurst(t *testing.T) {
	clk := newClock()
	f := New(Limit{PerMinute: 1, Burst: 5}, 100, clk.Now)
	var admitted atomic.Int64
	var inFlight, done sync.WaitGroup
	inFlight.Add(200)
	for range 200 {
		done.Go(func() {
			ok, _ := f.Admit("k")
			inFlight.Done()
			inFlight.Wait() // every attempt checked before any has failed
			if ok {
				admitted.Add(1)
				f.Done("k", true)
			}
		})
	}
	done.Wait()
	if got := admitted.Load(); got != 5 {
		t.Fatalf("%d failures admitted, want 5", got)
	}
	if ok, _ := f.Admit("k"); ok {
		t.Fatal("admitted after the burst was spent")
	}
}

func TestIdleKeysAreForgotten(t *testing.T) {
	clk := newClock()
	f := New(Limit{PerMinute: 60, Burst: 2}, 100, clk.Now) // refill time 2 s
	ok, _ := f.Admit("ok")
	f.Done("ok", false)
	if f.Len() != 0 {
		t.Fatalf("a key with only successes is tracked: Len = %d", f.Len())
	}
	for i := range 50 {
		fail(f, fmt.Sprint("k", i))
	}
	if !ok || f.Len() != 50 {
		t.Fatalf("Len = %d, want 50", f.Len())
	}
	clk.Advance(1500 * time.Millisecond)
	fail(f, "new")
	fail(f, "new")
	if f.Len() != 51 {
		t.Fatalf("keys forgotten before their buckets refilled: Len = %d, want 51", f.Len())
	}
	clk.Advance(1 * time.Second) // k* full again; "new" is not
	f.Admit("x")                 // any call sweeps once per refill time
	f.Done("x", false)
	if f.Len() != 1 {
		t.Fatalf("after the refill time Len = %d, want 1 (only \"new\")", f.Len())
	}
}

func TestMaxKeysIsAHardCap(t *testing.T) {
	clk := newClock()
	f := New(Limit{PerMinute: 1, Burst: 1}, 10, clk.Now)
	for i := range 1000 {
		if !fail(f, fmt.Sprint("k", i)) {
			t.Fatalf("new key %d refused: a full table must evict, not lock everyone out", i)
		}
		if f.Len() > 10 {
			t.Fatalf("Len = %d after %d keys, want at most 10", f.Len(), i+1)
		}
	}
}

func TestMaxKeysAllPending(t *testing.T) {
	clk := newClock()
	f := New(Limit{PerMinute: 1, Burst: 1}, 2, clk.Now)
	f.Admit("a")
	f.Admit("b")
	if ok, wait := f.Admit("c"); ok || wait <= 0 {
		t.Fatalf("Admit with every tracked key pending = %v, %v; want false and a wait", ok, wait)
	}
	f.Done("a", false)
	if ok, _ := f.Admit("c"); !ok {
		t.Fatal("refused after a slot was freed")
	}
}

// TestStrayDoneGivesNoExtraAttempt: a Done that no Admit is waiting for
// (a caller bug) neither spends budget nor frees a reservation, so the key
// still gets exactly the failures its bucket holds.
func TestStrayDoneGivesNoExtraAttempt(t *testing.T) {
	tests := []struct {
		name   string
		before func(f *Failures) // leaves "k" with one token of its burst of 2 unless said otherwise
		want   int               // failures admitted afterwards
	}{
		{"untracked key", func(f *Failures) { f.Done("k", true) }, 2},
		{"tracked key, nothing pending, success", func(f *Failures) {
			fail(f, "k")
			f.Done("k", false)
		}, 1},
		{"tracked key, nothing pending, failure", func(f *Failures) {
			fail(f, "k")
			f.Done("k", true)
		}, 1},
		{"one attempt ended twice", func(f *Failures) {
			f.Admit("k")
			f.Done("k", true)
			f.Done("k", true)
		}, 1},
		{"one attempt ended three times", func(f *Failures) {
			f.Admit("k")
			f.Done("k", true)
			f.Done("k", false)
			f.Done("k", false)
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New(Limit{PerMinute: 1, Burst: 2}, 10, newClock().Now)
			tt.before(f)
			got := 0
			for got < 10 && fail(f, "k") {
				got++
			}
			if got != tt.want {
				t.Errorf("got %d failures admitted, want %d", got, tt.want)
			}
		})
	}
}

// TestWaitIsEnoughAndRoundsUp: the wait a refused Admit returns is positive,
// a whole millisecond, and exactly enough: one millisecond earlier the key is
// still refused, at the wait it is admitted. Rounding to the nearest
// millisecond instead would send clients back a fraction of a token early.
func TestWaitIsEnoughAndRoundsUp(t *testing.T) {
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
			clk := newClock()
			f := New(Limit{PerMinute: tt.perMinute, Burst: 1}, 10, clk.Now)
			if !fail(f, "k") {
				t.Fatal("the one failure of the burst was refused")
			}
			clk.Advance(tt.elapsed)
			ok, wait := f.Admit("k")
			if ok {
				t.Fatal("admitted with the budget spent")
			}
			if wait != tt.want {
				t.Errorf("got wait %v, want %v", wait, tt.want)
			}
			if wait <= 0 || wait%time.Millisecond != 0 {
				t.Fatalf("got wait %v, want a positive whole millisecond", wait)
			}
			clk.Advance(wait - time.Millisecond)
			if ok, _ := f.Admit("k"); ok {
				t.Errorf("admitted 1 ms before the wait of %v was over: the wait is too long", wait)
			}
			clk.Advance(time.Millisecond)
			if ok, again := f.Admit("k"); !ok {
				t.Errorf("refused after waiting the %v Admit asked for (now asks %v more)", wait, again)
			}
		})
	}
}

// A rate so small that the refill time overflows a time.Duration once hung
// Admit, under its lock, in the loop that rounds the wait up.
func TestTinyRateWaitIsCapped(t *testing.T) {
	for _, perMinute := range []float64{1e-9, 1e-300, 5e-324} {
		clk := newClock()
		f := New(Limit{PerMinute: perMinute, Burst: 1}, 10, clk.Now)
		if !fail(f, "k") {
			t.Fatal("the one failure of the burst was refused")
		}
		ok, wait := f.Admit("k")
		if ok || wait != 24*time.Hour {
			t.Errorf("%g a minute: got %v, %v; want refused with the capped wait", perMinute, ok, wait)
		}
	}
}

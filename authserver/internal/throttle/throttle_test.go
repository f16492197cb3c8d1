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

func TestDoneWithoutAdmitIsHarmless(t *testing.T) {
	f := New(Limit{PerMinute: 1, Burst: 1}, 10, newClock().Now)
	f.Done("never", true)
	if !fail(f, "never") {
		t.Fatal("a stray Done spent budget")
	}
}

package throttle

import (
	"fmt"
	"sync"
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

// fail runs one failed attempt for key and reports whether it was allowed.
func fail(f *Failures, key string) bool {
	ok, _ := f.Allow(key)
	if ok {
		f.Fail(key)
	}
	return ok
}

func TestIdleKeysAreForgotten(t *testing.T) {
	clk := newClock()
	f := New(Limit{PerMinute: 60, Burst: 2}, 100, clk.Now) // refill time 2 s
	ok, _ := f.Allow("ok")
	if !ok || f.Len() != 0 {
		t.Fatalf("a key only checked is tracked: Allow = %v, Len = %d", ok, f.Len())
	}
	for i := range 50 {
		fail(f, fmt.Sprint("k", i))
	}
	if f.Len() != 50 {
		t.Fatalf("Len = %d, want 50", f.Len())
	}
	clk.Advance(1500 * time.Millisecond)
	fail(f, "new")
	fail(f, "new")
	if f.Len() != 51 {
		t.Fatalf("keys forgotten before their buckets refilled: Len = %d, want 51", f.Len())
	}
	clk.Advance(1 * time.Second) // k* full again; "new" is not
	f.Allow("x")                 // any check sweeps once per refill time
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
	// A full table of locked-out keys refuses nobody else.
	if ok, _ := f.Allow("fresh"); !ok {
		t.Fatal("an untracked key refused because the table is full")
	}
}

// TestFullTableEvictsIdleKeysFirst: when the table is full, a new failure
// makes room by forgetting a key whose bucket has refilled, not a key that is
// locked out, even before the next sweep. (Fail alone never sweeps; the map's
// order is random, so the scenario runs many times.)
func TestFullTableEvictsIdleKeysFirst(t *testing.T) {
	for run := range 50 {
		clk := newClock()
		f := New(Limit{PerMinute: 60, Burst: 1}, 3, clk.Now) // refilled a second after a failure
		f.Fail("idle1")
		f.Fail("idle2")
		clk.Advance(2 * time.Second) // both full again, and no Allow has swept them
		f.Fail("victim")             // the table is full now
		f.Fail("fresh1")
		f.Fail("fresh2")
		if _, kept := f.keys["victim"]; !kept {
			t.Fatalf("run %d: the locked-out key was forgotten while idle keys could go", run)
		}
	}
}

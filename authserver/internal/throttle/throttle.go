// Package throttle limits failed attempts per key, such as a client id or a
// remote address, with one token bucket per key: every failure spends a
// token, tokens refill at a steady rate, and a key with no whole token left
// is refused until one has refilled.
//
// Only failures spend. Checking a key reserves nothing, so any number of
// attempts in flight at once, all of them correct, are all let through.
// Wrong guesses in flight together may each find the last token and spend
// it: the bucket then goes into debt (rate.Limiter.ReserveN), overshooting
// the burst by at most the number in flight, and the debt is paid back at
// the configured rate before the key is let through again, so the long-run
// failure rate stays at that rate.
//
// Memory stays bounded. Only a key with a failure is tracked; a key whose
// bucket is full again is indistinguishable from a key never seen, so it is
// forgotten; and at most a fixed number of keys is tracked, beyond which an
// arbitrary key is forgotten to make room for a new failure (handing it a
// fresh budget, which an attacker pays for with that many failures from
// fresh keys).
package throttle

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is the failure budget of one key.
type Limit struct {
	PerMinute float64 // failures refilled per minute
	Burst     int     // failures allowed at once; the bucket's size
}

// Budgets is where the failure budgets of many keys live: Failures keeps
// them in this process; a store shared by replicas can stand in for it.
type Budgets interface {
	// Allow reports whether key has a failure left to spend, and if not,
	// how long until it has. It spends nothing.
	Allow(key string) (ok bool, wait time.Duration)
	// Fail spends one failure of key, going into debt past the bucket.
	Fail(key string)
}

var _ Budgets = (*Failures)(nil)

// Failures tracks the failure budgets of many keys in memory. It is safe
// for concurrent use.
type Failures struct {
	rate       rate.Limit
	burst      int
	maxKeys    int
	sweepEvery time.Duration
	now        func() time.Time

	mu        sync.Mutex
	keys      map[string]*rate.Limiter
	lastSweep time.Time
}

// New returns a tracker giving every key the budget l, tracking at most
// maxKeys keys. now is the clock (time.Now outside tests). l.PerMinute and
// l.Burst must be positive.
func New(l Limit, maxKeys int, now func() time.Time) *Failures {
	r := rate.Limit(l.PerMinute / 60)
	// A key is forgotten once its bucket is full again, at the latest one
	// refill time after its last failure; sweeping that often keeps idle keys
	// for at most twice as long, at a cost of one pass per refill time.
	refill := min(time.Duration(float64(l.Burst)/float64(r)*float64(time.Second)), maxWait)
	return &Failures{
		rate:       r,
		burst:      l.Burst,
		maxKeys:    max(maxKeys, 1),
		sweepEvery: max(refill, time.Second),
		now:        now,
		keys:       map[string]*rate.Limiter{},
		lastSweep:  now(),
	}
}

// Allow reports whether key holds at least one whole token; otherwise it
// returns false and how long until it will.
func (f *Failures) Allow(key string) (ok bool, wait time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	f.sweep(now)
	b := f.keys[key]
	if b == nil {
		return true, 0 // never failed, or forgotten with a full bucket
	}
	if have := b.TokensAt(now); have < 1 {
		return false, f.waitFor(b, now, have)
	}
	return true, 0
}

// Fail spends one token of key, into debt when none is left.
func (f *Failures) Fail(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	b := f.keys[key]
	if b == nil {
		if len(f.keys) >= f.maxKeys {
			f.evictOne(now)
		}
		b = rate.NewLimiter(f.rate, f.burst)
		f.keys[key] = b
	}
	// ReserveN of one token never fails while the burst is at least one;
	// the reservation is kept, never cancelled: that is the debt.
	b.ReserveN(now, 1)
}

// waitFor returns how long until b holds one whole token, rounded up to a
// whole millisecond and never zero: a caller that waits exactly that long
// (the Retry-After header rounds it up to seconds) must find the token
// there, not a fraction of one short.
func (f *Failures) waitFor(b *rate.Limiter, now time.Time, have float64) time.Duration {
	secs := (1 - have) / float64(f.rate)
	if !(secs < maxWait.Seconds()) {
		// A rate so small, or a debt so deep, that the wait would overflow a
		// Duration or go past any sensible Retry-After: "much later".
		return maxWait
	}
	wait := time.Duration(secs * float64(time.Second)).Truncate(time.Millisecond)
	// The float division can land either side of the limiter's own
	// arithmetic by far less than a millisecond; step up to the first
	// millisecond the limiter agrees with. The bound only guards the lock
	// this runs under against a limiter that never agrees.
	for range 1000 {
		if b.TokensAt(now.Add(wait)) >= 1 {
			break
		}
		wait += time.Millisecond
	}
	return max(wait, time.Millisecond)
}

// maxWait caps the wait Allow reports.
const maxWait = 24 * time.Hour

// Len returns the number of keys tracked.
func (f *Failures) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.keys)
}

// idle reports whether b holds no information: its bucket is full.
func (f *Failures) idle(b *rate.Limiter, now time.Time) bool {
	return b.TokensAt(now) >= float64(f.burst)
}

func (f *Failures) sweep(now time.Time) {
	if now.Sub(f.lastSweep) < f.sweepEvery {
		return
	}
	f.lastSweep = now
	for k, b := range f.keys {
		if f.idle(b, now) {
			delete(f.keys, k)
		}
	}
}

// evictOne forgets one key to make room: an idle one if there is any (its
// bucket is full, so nothing is lost), else whichever the map's randomized
// iteration order yields first. Idle keys pile up between sweeps; without
// this an attacker's fresh keys would wipe a locked-out key's debt while
// forgettable ones were still there.
func (f *Failures) evictOne(now time.Time) {
	victim, found := "", false
	for k, b := range f.keys {
		if f.idle(b, now) {
			delete(f.keys, k)
			return
		}
		if !found {
			victim, found = k, true
		}
	}
	delete(f.keys, victim)
}

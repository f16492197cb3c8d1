// Package throttle limits failed attempts per key, such as a client id or a
// remote address, with one token bucket per key: every failure spends a
// token, tokens refill at a steady rate, and a key with no token left is
// refused until one has refilled.
//
// Memory stays bounded. A key whose bucket is full again is indistinguishable
// from a key never seen, so it is forgotten; and at most a fixed number of
// keys is tracked, beyond which an arbitrary idle key is forgotten to make
// room (handing it a fresh budget, which an attacker pays for with that many
// failures from fresh keys).
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

// Failures tracks the failure budgets of many keys. It is safe for
// concurrent use.
type Failures struct {
	rate       rate.Limit
	burst      int
	maxKeys    int
	sweepEvery time.Duration
	now        func() time.Time

	mu        sync.Mutex
	keys      map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens *rate.Limiter
	// pending counts attempts admitted but not yet done. Each holds a token
	// in reserve, so concurrent attempts cannot all pass the check before
	// any of them has spent.
	pending int
}

// New returns a tracker giving every key the budget l, tracking at most
// maxKeys keys. now is the clock (time.Now outside tests). l.PerMinute and
// l.Burst must be positive.
func New(l Limit, maxKeys int, now func() time.Time) *Failures {
	r := rate.Limit(l.PerMinute / 60)
	// A key is forgotten once its bucket is full again, at the latest one
	// refill time after its last failure; sweeping that often keeps idle keys
	// for at most twice as long, at a cost of one pass per refill time.
	refill := time.Duration(float64(l.Burst) / float64(r) * float64(time.Second))
	return &Failures{
		rate:       r,
		burst:      l.Burst,
		maxKeys:    max(maxKeys, 1),
		sweepEvery: max(refill, time.Second),
		now:        now,
		keys:       map[string]*bucket{},
		lastSweep:  now(),
	}
}

// Admit lets one attempt for key go ahead if key's budget covers it and
// every attempt still pending. Otherwise it returns false and roughly how
// long until it would. Every admitted attempt must be ended by Done.
func (f *Failures) Admit(key string) (ok bool, wait time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	f.sweep(now)
	b := f.keys[key]
	if b == nil {
		if len(f.keys) >= f.maxKeys && !f.evictIdle() {
			return false, time.Second // every tracked key has an attempt in flight
		}
		b = &bucket{tokens: rate.NewLimiter(f.rate, f.burst)}
		f.keys[key] = b
	}
	need := float64(b.pending + 1)
	if have := b.tokens.TokensAt(now); have < need {
		return false, f.waitFor(b, now, need, have)
	}
	b.pending++
	return true, 0
}

// waitFor returns how long until b holds need tokens, rounded up to a whole
// millisecond and never zero: a caller that waits exactly that long (the
// Retry-After header rounds it up to seconds) must find the budget there,
// not a fraction of a token short.
func (f *Failures) waitFor(b *bucket, now time.Time, need, have float64) time.Duration {
	secs := (need - have) / float64(f.rate)
	if !(secs < maxWait.Seconds()) {
		// A rate so small that the wait would overflow a Duration (or
		// go past any sensible Retry-After): say "much later" instead.
		return maxWait
	}
	wait := time.Duration(secs * float64(time.Second)).Truncate(time.Millisecond)
	if need > float64(f.burst) {
		// More attempts in flight than the bucket holds: only one of them
		// ending makes room, so the refill time is merely a guess.
		return max(wait, time.Millisecond)
	}
	// The float division can land either side of the limiter's own
	// arithmetic by far less than a millisecond; step up to the first
	// millisecond the limiter agrees with. The bound only guards the lock
	// this runs under against a limiter that never agrees.
	for range 1000 {
		if b.tokens.TokensAt(now.Add(wait)) >= need {
			break
		}
		wait += time.Millisecond
	}
	return wait
}

// maxWait caps the wait Admit reports.
const maxWait = 24 * time.Hour

// Done ends an attempt admitted for key; a failed attempt spends a token.
func (f *Failures) Done(key string, failed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.keys[key]
	if b == nil || b.pending == 0 {
		// Not admitted, or ended twice: a caller bug, but no reason to panic.
		// Decrementing anyway would drive pending negative, and every
		// negative count is one more attempt admitted than the budget holds.
		return
	}
	now := f.now()
	b.pending--
	if failed {
		b.tokens.AllowN(now, 1)
	}
	if f.idle(b, now) {
		delete(f.keys, key)
	}
}

// Len returns the number of keys tracked.
func (f *Failures) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.keys)
}

// idle reports whether b holds no information: nothing pending, bucket full.
func (f *Failures) idle(b *bucket, now time.Time) bool {
	return b.pending == 0 && b.tokens.TokensAt(now) >= float64(f.burst)
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

// evictIdle forgets one key without pending attempts, whichever the map's
// randomized iteration order yields first, in constant expected time.
func (f *Failures) evictIdle() bool {
	for k, b := range f.keys {
		if b.pending == 0 {
			delete(f.keys, k)
			return true
		}
	}
	return false
}

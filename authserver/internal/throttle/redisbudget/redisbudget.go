// Package redisbudget keeps failure budgets (throttle.Budgets) in Redis, so
// that every replica spends from the same bucket of a key.
//
// Each bucket is a hash {tokens, t} updated by one Lua script per call, so
// concurrent replicas never lose an update. The refill follows
// rate.Limiter, as throttle.Failures does: tokens grow by the rate since t,
// are capped at the burst, and a failure spends one, into debt past zero.
// Time is the caller's clock in milliseconds, not Redis's, so a test's fake
// clock drives both backends alike; a replica whose clock lags another's
// sees no refill until it catches up (t never moves backwards), so skew
// only ever makes the budget stricter. A bucket expires once it would be
// full again (plus a second of slack for skew), which is when it holds no
// information: Redis alone bounds the memory.
//
// When Redis cannot be reached, the budgets fall back to per-process ones
// for the outage (see Budgets), so a Redis outage neither refuses valid
// clients nor lets guesses through unlimited.
package redisbudget

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenbearer/authserver/internal/throttle"
)

// common reads the bucket and defines at(x), the tokens at time x (ms).
// ARGV: now (ms), failures per minute, burst.
const common = `
local now = tonumber(ARGV[1])
local per_minute = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local saved = redis.call('HMGET', KEYS[1], 'tokens', 't')
local tokens0, t0 = tonumber(saved[1]), tonumber(saved[2])
local function at(x)
  if not tokens0 then return burst end
  if x <= t0 then return tokens0 end
  return math.min(burst, tokens0 + (x - t0) * per_minute / 60000)
end
`

// allowScript returns {1, 0} when the bucket holds a whole token, else
// {0, wait}: the first whole millisecond at which it will, never 0, capped
// at ARGV[4].
var allowScript = redis.NewScript(common + `
local have = at(now)
if have >= 1 then return {1, 0} end
local max_wait = tonumber(ARGV[4])
-- Refilling starts at t0 when a replica with a clock ahead of this one's
-- wrote the bucket.
local from = now
if t0 and t0 > now then from = t0 end
local x = (from - now) + (1 - have) * 60000 / per_minute
if not (x < max_wait) then return {0, max_wait} end
-- The division can land either side of at()'s arithmetic: step up to the
-- first millisecond at() agrees with.
local w = math.floor(x)
for i = 1, 1000 do
  if at(now + w) >= 1 then break end
  w = w + 1
end
return {0, math.max(w, 1)}
`)

// failScript spends one token, into debt, and lets the bucket expire once
// it would be full again plus ARGV[4] ms of slack, at most ARGV[5] ms.
var failScript = redis.NewScript(common + `
local tokens = at(now) - 1
local t = now
if t0 and t0 > t then t = t0 end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 't', string.format('%.17g', t))
local ttl = math.ceil((burst - tokens) * 60000 / per_minute) + tonumber(ARGV[4])
local max_ttl = tonumber(ARGV[5])
if not (ttl < max_ttl) then ttl = max_ttl end
redis.call('PEXPIRE', KEYS[1], string.format('%d', ttl))
return 1
`)

const (
	// maxWait caps the wait Allow reports, as throttle.Failures does.
	maxWait = 24 * time.Hour
	// expirySlack keeps a bucket a little past its refill, for replicas
	// whose clocks lag the one that wrote it.
	expirySlack = time.Second
	// maxTTL bounds how long a bucket is kept: at rates so small that the
	// refill takes longer, a key is forgiven its debt after this long.
	maxTTL = 30 * 24 * time.Hour
	// opTimeout bounds one script call: a Redis that does not answer is
	// an outage, not a reason to hold a token request.
	opTimeout = time.Second
	// retryEvery is how long the budgets stay on the fallback after a
	// failed call before trying Redis again, so an outage costs a request
	// at most one timeout per retryEvery, not one each.
	retryEvery = time.Second
	// warnEvery is how often an outage is logged.
	warnEvery = time.Minute
)

// Budgets are failure budgets in Redis under one key prefix. They are safe
// for concurrent use.
//
// Outage policy: when a call to Redis fails (or takes over a second), that
// call and every call for the next second use Fallback, budgets of this
// process (throttle.Failures in production), and a Warn is logged at most
// once a minute. Valid clients are never refused for the outage, and
// guesses stay limited by the same Limit, per replica. Allow also consults
// Fallback while Redis is up, so failures counted during an outage keep
// counting until they have refilled.
type Budgets struct {
	rdb      redis.Scripter
	prefix   string
	args     []any // per minute, burst: the script's ARGV[2:3]
	now      func() time.Time
	fallback throttle.Budgets
	logger   *slog.Logger

	mu        sync.Mutex
	downUntil time.Time // use only the fallback until then
	lastWarn  time.Time
	failed    int // calls sent to the fallback since the last warning
}

var _ throttle.Budgets = (*Budgets)(nil)

// New returns the budgets l of the keys under prefix in rdb, on the clock
// now (time.Now outside tests), falling back to fallback when Redis cannot
// be reached and logging that to logger. l.PerMinute and l.Burst must be
// positive.
func New(rdb redis.Scripter, prefix string, l throttle.Limit, now func() time.Time, fallback throttle.Budgets, logger *slog.Logger) *Budgets {
	return &Budgets{
		rdb:      rdb,
		prefix:   prefix,
		args:     []any{strconv.FormatFloat(l.PerMinute, 'g', -1, 64), l.Burst},
		now:      now,
		fallback: fallback,
		logger:   logger,
	}
}

// Allow reports whether key holds at least one whole token; otherwise it
// returns false and how long until it will.
func (b *Budgets) Allow(key string) (ok bool, wait time.Duration) {
	now := b.now()
	fbOK, fbWait := b.fallback.Allow(key)
	if !b.up(now) {
		return fbOK, fbWait
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	res, err := allowScript.Run(ctx, b.rdb, []string{b.prefix + key}, b.argv(now, maxWait.Milliseconds())...).Int64Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("allow script answered %v, want {ok, wait}", res)
	}
	if err != nil {
		b.down(now, "Allow", err)
		return fbOK, fbWait
	}
	ok, wait = res[0] == 1, time.Duration(res[1])*time.Millisecond
	switch {
	case !fbOK && ok:
		return false, fbWait
	case !fbOK:
		return false, max(wait, fbWait)
	}
	return ok, wait
}

// Fail spends one token of key, into debt when none is left.
func (b *Budgets) Fail(key string) {
	now := b.now()
	if !b.up(now) {
		b.fallback.Fail(key)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := failScript.Run(ctx, b.rdb, []string{b.prefix + key}, b.argv(now, expirySlack.Milliseconds(), maxTTL.Milliseconds())...).Err(); err != nil {
		b.down(now, "Fail", err)
		b.fallback.Fail(key)
	}
}

func (b *Budgets) argv(now time.Time, more ...int64) []any {
	argv := append([]any{now.UnixMilli()}, b.args...)
	for _, m := range more {
		argv = append(argv, m)
	}
	return argv
}

// up reports whether to try Redis at now.
func (b *Budgets) up(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Before(b.downUntil) {
		b.failed++
		return false
	}
	return true
}

// down records a failed call: the fallback answers until retryEvery has
// passed, and the outage is logged at most once per warnEvery.
func (b *Budgets) down(now time.Time, op string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.downUntil = now.Add(retryEvery)
	b.failed++
	if !b.lastWarn.IsZero() && now.Sub(b.lastWarn) < warnEvery {
		return
	}
	b.logger.Warn("failure budgets: Redis unreachable, counting failures in this process only until it answers",
		"prefix", b.prefix, "op", op, "calls_on_fallback", b.failed, "err", err)
	b.lastWarn, b.failed = now, 0
}

package main

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenbearer/authserver/internal/throttle"
	"github.com/tokenbearer/authserver/internal/throttle/redisbudget"
)

// maxThrottledKeys bounds each failure table (a few hundred bytes a key).
const maxThrottledKeys = 10_000

// authThrottle limits failed client authentications per client_id and per
// remote address. The per-client budget stops slow guessing spread over
// many addresses; the per-address one stops one source from guessing across
// many client ids. Unknown client ids are counted like known ones, so a 429
// tells nothing about which ids exist. Only failures spend: a client with
// the right secret is let through however many of its requests are in
// flight, unless its client_id or address is locked out.
type authThrottle struct {
	byClient, byAddr throttle.Budgets
}

// newAuthThrottle keeps the budgets in this process: each replica counts
// only the failures it saw.
func newAuthThrottle(perClient, perAddr throttle.Limit, now func() time.Time) *authThrottle {
	return &authThrottle{
		byClient: throttle.New(perClient, maxThrottledKeys, now),
		byAddr:   throttle.New(perAddr, maxThrottledKeys, now),
	}
}

// Key prefixes of the budgets in a Redis store.
const (
	clientBudgetPrefix = storePrefix + "fail:client:"
	addrBudgetPrefix   = storePrefix + "fail:addr:"
)

// newSharedAuthThrottle keeps the budgets in the Redis store rdb, so every
// replica on it spends from one budget per client_id and per address. While
// Redis cannot be reached the budgets fall back to this process's, logged
// to logger (redisbudget.Budgets): valid clients are never refused for an
// outage, and guessing stays limited, per replica.
func newSharedAuthThrottle(rdb redis.Scripter, perClient, perAddr throttle.Limit, now func() time.Time, logger *slog.Logger) *authThrottle {
	return &authThrottle{
		byClient: redisbudget.New(rdb, clientBudgetPrefix, perClient, now, throttle.New(perClient, maxThrottledKeys, now), logger),
		byAddr:   redisbudget.New(rdb, addrBudgetPrefix, perAddr, now, throttle.New(perAddr, maxThrottledKeys, now), logger),
	}
}

// begin checks both budgets before any secret is checked, so a locked-out
// caller learns nothing and costs no hashing. It returns the function that
// reports the attempt's outcome (a failure spends from both budgets), or how
// long to wait. An empty clientID (none given, or not a plausible one)
// counts against the address only.
func (t *authThrottle) begin(remoteAddr, clientID string) (end func(failed bool), wait time.Duration) {
	addr := addrKey(remoteAddr)
	if ok, wait := t.byAddr.Allow(addr); !ok {
		return nil, wait
	}
	if clientID != "" {
		if ok, wait := t.byClient.Allow(clientID); !ok {
			return nil, wait
		}
	}
	return func(failed bool) {
		if !failed {
			return
		}
		t.byAddr.Fail(addr)
		if clientID != "" {
			t.byClient.Fail(clientID)
		}
	}, 0
}

// addrKey is the TCP peer's IP (never a forwarding header, which the caller
// controls). IPv6 peers are grouped by /64, the block one host usually has.
func addrKey(remoteAddr string) string {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

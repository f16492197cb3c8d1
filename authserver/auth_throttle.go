package main

import (
	"net/netip"
	"time"

	"github.com/tokenbearer/authserver/internal/throttle"
)

// maxThrottledKeys bounds each failure table (a few hundred bytes a key).
const maxThrottledKeys = 10_000

// authThrottle limits failed client authentications per client_id and per
// remote address. The per-client budget stops slow guessing spread over
// many addresses; the per-address one stops one source from guessing across
// many client ids. Unknown client ids are counted like known ones, so a 429
// tells nothing about which ids exist.
type authThrottle struct {
	byClient, byAddr *throttle.Failures
}

func newAuthThrottle(perClient, perAddr throttle.Limit, now func() time.Time) *authThrottle {
	return &authThrottle{
		byClient: throttle.New(perClient, maxThrottledKeys, now),
		byAddr:   throttle.New(perAddr, maxThrottledKeys, now),
	}
}

// begin admits one authentication attempt before any secret is checked, so
// a locked-out caller learns nothing and costs no hashing. It returns the
// function that ends the attempt, or how long to wait. An empty clientID
// (none given, or not a plausible one) counts against the address only.
func (t *authThrottle) begin(remoteAddr, clientID string) (end func(failed bool), wait time.Duration) {
	addr := addrKey(remoteAddr)
	ok, wait := t.byAddr.Admit(addr)
	if !ok {
		return nil, wait
	}
	if clientID == "" {
		return func(failed bool) { t.byAddr.Done(addr, failed) }, 0
	}
	if ok, wait := t.byClient.Admit(clientID); !ok {
		t.byAddr.Done(addr, false)
		return nil, wait
	}
	return func(failed bool) {
		t.byAddr.Done(addr, failed)
		t.byClient.Done(clientID, failed)
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

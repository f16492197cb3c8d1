package bearer

import (
	"crypto/sha256"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultTokenCacheSize is how many verified tokens a Validator remembers unless Config.TokenCacheSize says otherwise.
const DefaultTokenCacheSize = 10_000

// Per-entry memory. A hit needs only the kid, the time claims and the Claims it returns (with the cnf thumbprint,
// which ValidateTLS checks against the connection on a hit as on a miss), so that is all an entry
// keeps: never the raw token, nor claims outside Claims (a token may carry up to maxTokenBytes of them). An entry
// whose estimated size exceeds maxCachedEntryBytes is not cached; its token is still verified on every request.
//
// Worst case: TokenCacheSize * maxCachedEntryBytes of estimated entries, 20 MiB at the default 10,000, plus the
// allocator's rounding of each string (at most 1/8). TestTokenCacheMemoryBound measures a full cache of entries at
// the cap: about 2.1 KiB each, so some 21 MiB for 10,000 tokens, and at most 22.5 MiB.
const (
	maxCachedEntryBytes = 2 << 10
	// entryOverheadBytes is what an entry costs besides its strings: the LRU's list element (96 B with its 32-byte
	// key) and map slot (under 100 B at the worst load factor), cachedToken itself (about 220 B with its Claims),
	// three NumericDates (24 B each) and the audience slice's array, rounded up generously.
	entryOverheadBytes = 512
	// audienceOverheadBytes is a string header in the audience slice's array.
	audienceOverheadBytes = 16
)

// tokenKey is the SHA-256 of the whole compact JWS. Keying by the whole token, signature included, is what makes a
// hit safe: any other token, even one with the same jti and claims, has another key and is verified in full.
type tokenKey [sha256.Size]byte

// cachedToken is what a hit needs.
type cachedToken struct {
	kid string
	// exp, nbf and iat are re-checked on every hit, from copies the returned Claims cannot reach. nbf and iat are
	// zero when the token has none.
	exp, nbf, iat time.Time
	claims        *Claims
}

// tokenCache remembers tokens whose signature and claims were verified, so that the same token presented again
// costs a hash and a map lookup instead of a parse and an RSA verification. It is safe for concurrent use.
type tokenCache struct {
	lru *lru.Cache[tokenKey, *cachedToken]
	// epoch counts the key retirements. A token verified while a retirement runs may have been checked against a
	// key that is now gone, after the sweep already passed; add sees the epoch move and drops such an entry.
	epoch atomic.Uint64
	// hits counts the requests answered from the cache, for tests.
	hits atomic.Int64
}

func newTokenCache(size int) *tokenCache {
	c, err := lru.New[tokenKey, *cachedToken](size)
	if err != nil {
		// lru.New fails only on a size <= 0, which newValidator never passes.
		panic("bearer: " + err.Error())
	}
	return &tokenCache{lru: c}
}

// hashBuffers hold the bytes of a token while it is hashed. []byte(raw) would allocate a copy of every token
// (TestManyDotsAreCheap counts that), and a fresh buffer on the stack would be zeroed on every call, 8 KiB for a
// token usually under 1 KiB; a pooled one is neither.
var hashBuffers = sync.Pool{New: func() any { return new([maxTokenBytes]byte) }}

// tokenKeyOf hashes raw, which Validate has bounded by maxTokenBytes.
func tokenKeyOf(raw string) tokenKey {
	buf := hashBuffers.Get().(*[maxTokenBytes]byte)
	defer hashBuffers.Put(buf)
	return sha256.Sum256(buf[:copy(buf[:], raw)])
}

// get returns a copy of the claims of the verified token with key k, if it is cached and still within its exp and
// nbf (and iat), with the leeway, at now. A cached token that no longer passes those checks is dropped, and the
// caller verifies it in full, so it is refused with exactly the error it would get without the cache.
func (c *tokenCache) get(k tokenKey, now time.Time, leeway time.Duration) (*Claims, bool) {
	e, ok := c.lru.Get(k)
	if !ok {
		return nil, false
	}
	if !e.current(now, leeway) {
		c.lru.Remove(k)
		return nil, false
	}
	c.hits.Add(1)
	return cloneClaims(e.claims), true
}

// current applies golang-jwt's own comparisons for exp, nbf and iat, so a hit and a full check agree to the instant.
func (e *cachedToken) current(now time.Time, leeway time.Duration) bool {
	return now.Before(e.exp.Add(leeway)) &&
		(e.nbf.IsZero() || !now.Before(e.nbf.Add(-leeway))) &&
		(e.iat.IsZero() || !now.Before(e.iat.Add(-leeway)))
}

// add remembers a token that has just been verified against a key with kid; epoch is c.epoch as read before the
// verification began. Only Validate's success path calls it, so nothing a client can forge ever takes a place in
// the cache or pushes a verified token out.
func (c *tokenCache) add(k tokenKey, epoch uint64, kid string, claims *Claims) {
	if claims.ExpiresAt == nil {
		return // the parser requires exp; without one there would be no end to the entry
	}
	e := &cachedToken{kid: kid, exp: claims.ExpiresAt.Time, claims: cloneClaims(claims)}
	if claims.NotBefore != nil {
		e.nbf = claims.NotBefore.Time
	}
	if claims.IssuedAt != nil {
		e.iat = claims.IssuedAt.Time
	}
	if e.size() > maxCachedEntryBytes {
		return
	}
	c.lru.Add(k, e)
	if c.epoch.Load() != epoch {
		c.lru.Remove(k)
	}
}

// size estimates the bytes the entry holds, for the per-entry cap.
func (e *cachedToken) size() int {
	c := e.claims
	n := entryOverheadBytes + len(e.kid) + len(c.Issuer) + len(c.Subject) + len(c.ID) + len(c.ClientID) + len(c.Scope) +
		len(c.Confirmation.X5tS256)
	for _, a := range c.Audience {
		n += audienceOverheadBytes + len(a)
	}
	return n
}

// retire drops every cached token verified with one of kids, because the JWKS no longer holds that key (or holds
// another key under its kid). It runs after the new key set is in place; see epoch for the tokens in flight.
func (c *tokenCache) retire(kids map[string]bool) {
	c.epoch.Add(1)
	for _, k := range c.lru.Keys() {
		if e, ok := c.lru.Peek(k); ok && kids[e.kid] {
			c.lru.Remove(k)
		}
	}
}

// cloneClaims copies c so that no two callers, and not the cache, share anything a handler could modify: the
// NumericDates and the audience slice are copied too. Two allocations: Claims with its dates, and the audience.
func cloneClaims(c *Claims) *Claims {
	box := &struct {
		c             Claims
		exp, nbf, iat jwt.NumericDate
	}{c: *c}
	out := &box.c
	if c.ExpiresAt != nil {
		box.exp = *c.ExpiresAt
		out.ExpiresAt = &box.exp
	}
	if c.NotBefore != nil {
		box.nbf = *c.NotBefore
		out.NotBefore = &box.nbf
	}
	if c.IssuedAt != nil {
		box.iat = *c.IssuedAt
		out.IssuedAt = &box.iat
	}
	out.Audience = slices.Clone(c.Audience)
	return out
}

package bearer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/tokenbearer/valuesapi/bearer/bearertest"
)

const cacheLeeway = 30 * time.Second

// fakeClock is the validator's clock in these tests, so exp and nbf are crossed without sleeping.
type fakeClock struct{ unixNano atomic.Int64 }

func (c *fakeClock) now() time.Time       { return time.Unix(0, c.unixNano.Load()) }
func (c *fakeClock) set(t time.Time)      { c.unixNano.Store(t.UnixNano()) }
func newFakeClock(t time.Time) *fakeClock { c := &fakeClock{}; c.set(t); return c }

// cacheFixture is a ready Validator on a fake clock, behind a Gin engine with GET /a requiring scope "a" and GET /b
// requiring scope "b".
type cacheFixture struct {
	a     *bearertest.Authority
	v     *Validator
	clock *fakeClock
	// t0 is the clock's start, a whole second, so tokens' NumericDates fall exactly on it.
	t0 time.Time
	h  http.Handler
}

func newCacheFixture(t *testing.T, edit func(*Config)) *cacheFixture {
	t.Helper()
	a := bearertest.NewAuthority(t)
	cfg := Config{
		Authority:          a.URL,
		Audience:           fuzzAudience,
		Leeway:             cacheLeeway,
		UnknownKIDInterval: time.Millisecond,
		FetchTimeout:       5 * time.Second,
		Logger:             slog.New(slog.DiscardHandler),
		Realm:              "valuesapi",
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := newValidator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(time.Now().Unix(), 0)
	clock := newFakeClock(t0)
	v.now = clock.now // before the keys load, since the parser takes the clock then
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go v.loadLoop(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for !v.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("validator not ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	for _, scope := range []string{"a", "b"} {
		r.GET("/"+scope, v.Require(scope), func(c *gin.Context) {
			claims, _ := ClaimsFrom(c)
			c.String(http.StatusOK, claims.Scope)
		})
	}
	return &cacheFixture{a: a, v: v, clock: clock, t0: t0, h: r}
}

// claims are the claims of a valid token for scope, issued at t0 for an hour.
func (fx *cacheFixture) claims(scope string) jwt.MapClaims {
	c := fx.a.Claims(fuzzAudience, scope)
	c["iat"], c["nbf"], c["exp"] = fx.t0.Unix(), fx.t0.Unix(), fx.t0.Add(time.Hour).Unix()
	return c
}

func (fx *cacheFixture) token(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	return bearertest.Sign(t, fx.a.Key, fx.a.Header(), claims)
}

// result is what one request got, and whether the cache answered it.
type result struct {
	status int
	desc   string // error_description, "" on success
	hit    bool
}

func (r result) String() string { return fmt.Sprintf("%d %q hit=%v", r.status, r.desc, r.hit) }

func (fx *cacheFixture) get(path, token string) result { return fx.getOn(nil, path, token) }

// getOn is get on a connection with TLS state conn (nil: plain HTTP).
func (fx *cacheFixture) getOn(conn *tls.ConnectionState, path, token string) result {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.TLS = conn
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	hits := fx.hits()
	fx.h.ServeHTTP(rec, req)
	var body struct {
		Description string `json:"error_description"`
	}
	if rec.Code != http.StatusOK {
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
	}
	return result{rec.Code, body.Description, fx.hits() > hits}
}

func (fx *cacheFixture) hits() int64 {
	if fx.v.cache == nil {
		return 0
	}
	return fx.v.cache.hits.Load()
}

var (
	admitted = result{status: http.StatusOK}
	hit      = result{status: http.StatusOK, hit: true}
)

func refused(desc string) result { return result{status: http.StatusUnauthorized, desc: desc} }

// mustCache sends token to path twice and fails unless the second request was a hit.
func (fx *cacheFixture) mustCache(t *testing.T, path, token string) {
	t.Helper()
	fx.get(path, token)
	if got := fx.get(path, token); got != hit {
		t.Fatalf("second request: got %v, want %v", got, hit)
	}
}

// TestTokenCacheKeepsTheBinding: a hit answers with the cnf the token was verified with, so a certificate-bound
// token cached from the right client's connection is refused on a connection without that certificate, and one
// cached from a refused request is admitted once the certificate comes.
func TestTokenCacheKeepsTheBinding(t *testing.T) {
	fx := newCacheFixture(t, nil)
	ca := bearertest.NewCA(t)
	cert, other := ca.Client(t, "client"), ca.Client(t, "other")
	desc := "token is bound to a certificate the request did not present"
	type step struct {
		conn *tls.ConnectionState
		want result
	}
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"first with the certificate", []step{
			{connWith(cert), admitted},
			{nil, result{status: http.StatusUnauthorized, desc: desc, hit: true}},
			{connWith(other), result{status: http.StatusUnauthorized, desc: desc, hit: true}},
			{connWith(cert), hit},
		}},
		{"first without it", []step{
			{nil, refused(desc)},
			{connWith(cert), hit},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			claims := fx.claims("a")
			claims["jti"] = tt.name // a token of its own
			token := fx.token(t, bearertest.Bind(claims, cert))
			for i, s := range tt.steps {
				if got := fx.getOn(s.conn, "/a", token); got != s.want {
					t.Errorf("request %d: got %v, want %v", i+1, got, s.want)
				}
			}
		})
	}
}

func connWith(cert tls.Certificate) *tls.ConnectionState {
	return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Leaf}}
}

// TestTokenCacheKeysTheWholeToken: after a good token is cached, a token that shares its jti, its claims, or all
// of it but the signature is still verified in full: the entry belongs to the exact string that was verified.
func TestTokenCacheKeysTheWholeToken(t *testing.T) {
	fx := newCacheFixture(t, nil)
	good := fx.token(t, fx.claims("a"))
	fx.mustCache(t, "/a", good)

	i := strings.LastIndexByte(good, '.')
	sig, err := base64.RawURLEncoding.DecodeString(good[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)-1] ^= 1
	// The claims of a token for more scope, with the same jti, under the good token's signature.
	widened := fx.token(t, fx.claims("a b"))
	widened = widened[:strings.LastIndexByte(widened, '.')+1] + good[i+1:]
	tests := []struct {
		name  string
		path  string
		token string
		want  result
	}{
		{"same header and claims, one signature bit flipped", "/a", good[:i+1] + base64.RawURLEncoding.EncodeToString(sig), refused("invalid token signature")},
		{"same header and claims, signed by another key", "/a", bearertest.Sign(t, bearertest.Keys(t)[2], fx.a.Header(), fx.claims("a")), refused("invalid token signature")},
		{"same header and claims, no signature", "/a", good[:i+1], refused("invalid token signature")},
		{"same jti, wider scope, the good token's signature", "/a", widened, refused("invalid token signature")},
		{"same jti, other scope, validly signed", "/a", fx.token(t, fx.claims("b")), result{status: http.StatusForbidden, desc: "token lacks the required scope"}},
		{"the good token again", "/a", good, hit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fx.get(tt.path, tt.token); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTokenCacheRechecksTimes: a cached token is admitted from memory only while exp, nbf and iat hold at the
// validator's clock, with the configured leeway, exactly as a full check would judge them.
func TestTokenCacheRechecksTimes(t *testing.T) {
	fx := newCacheFixture(t, nil)
	t0 := fx.t0
	exp := t0.Add(time.Hour)
	nbfLater := fx.claims("a")
	nbfLater["iat"] = t0.Add(-time.Hour).Unix() // so only nbf is in the future when the clock goes back
	iatLater := fx.claims("a")
	iatLater["nbf"] = t0.Add(-time.Hour).Unix()
	tokens := map[string]string{"nbf": fx.token(t, nbfLater), "iat": fx.token(t, iatLater)}
	tests := []struct {
		name  string
		token string
		at    time.Time
		want  result
	}{
		{"before exp", "nbf", exp.Add(-time.Second), hit},
		{"past exp, within the leeway", "nbf", exp.Add(cacheLeeway - time.Second), hit},
		{"past exp and the leeway", "nbf", exp.Add(cacheLeeway), refused("token is expired")},
		{"long past exp", "nbf", exp.Add(24 * time.Hour), refused("token is expired")},
		{"clock back before nbf, within the leeway", "nbf", t0.Add(-cacheLeeway), hit},
		{"clock back before nbf and the leeway", "nbf", t0.Add(-cacheLeeway - time.Second), refused("token is not valid yet")},
		{"clock back before iat, within the leeway", "iat", t0.Add(-cacheLeeway), hit},
		{"clock back before iat and the leeway", "iat", t0.Add(-cacheLeeway - time.Second), refused("token issued in the future")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx.clock.set(t0)
			fx.get("/a", tokens[tt.token]) // cached, or already
			if got := fx.get("/a", tokens[tt.token]); got != hit {
				t.Fatalf("at t0: got %v, want %v", got, hit)
			}
			fx.clock.set(tt.at)
			if got := fx.get("/a", tokens[tt.token]); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTokenCacheChecksScopeOnEveryHit: the cache remembers the token, not a route's verdict; a token cached on a
// route it has the scope for is refused, from the cache, on a route it lacks the scope for.
func TestTokenCacheChecksScopeOnEveryHit(t *testing.T) {
	fx := newCacheFixture(t, nil)
	token := fx.token(t, fx.claims("a"))
	fx.mustCache(t, "/a", token)
	want := result{status: http.StatusForbidden, desc: "token lacks the required scope", hit: true}
	if got := fx.get("/b", token); got != want {
		t.Errorf("route b: got %v, want %v", got, want)
	}
}

// TestTokenCacheDropsRetiredKeys: when a JWKS refresh leaves a key out, or puts another key under its kid, every
// token that key verified is refused at once, without waiting for the token's exp; keys the refresh keeps keep
// their tokens.
func TestTokenCacheDropsRetiredKeys(t *testing.T) {
	next := bearertest.Keys(t)[1]
	tests := []struct {
		name   string
		rotate func(a *bearertest.Authority)
		want   result
	}{
		{"key removed", func(a *bearertest.Authority) {
			a.AddKey("key-2", &next.PublicKey)
			a.RemoveKey(a.KID)
		}, refused("unknown signing key")},
		{"another key under the same kid", func(a *bearertest.Authority) { a.AddKey(a.KID, &next.PublicKey) }, refused("invalid token signature")},
		{"same key, now for encryption", func(a *bearertest.Authority) {
			a.AddKey("key-2", &next.PublicKey)
			a.AddKeyWith(a.KID, &a.Key.PublicKey, "enc", "RS256")
		}, refused("unknown signing key")},
		{"key kept, another added", func(a *bearertest.Authority) { a.AddKey("key-2", &next.PublicKey) }, hit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newCacheFixture(t, nil)
			token := fx.token(t, fx.claims("a"))
			fx.mustCache(t, "/a", token)
			tt.rotate(fx.a)
			// An unknown kid makes the validator refetch the JWKS before it answers.
			fetches := fx.a.JWKSFetches()
			unknown := bearertest.Sign(t, next, map[string]any{"alg": "RS256", "kid": "refresh-now", "typ": "at+jwt"}, fx.claims("a"))
			if got := fx.get("/a", unknown); got != refused("unknown signing key") || fx.a.JWKSFetches() == fetches {
				t.Fatalf("refresh trigger: got %v after %d fetches, want %v after a fetch", got, fx.a.JWKSFetches()-fetches, refused("unknown signing key"))
			}
			if got := fx.get("/a", token); got != tt.want {
				t.Errorf("cached token after the refresh: got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTokenCacheAddAfterRetire: a token verified with a key that is retired before it is added (the sweep has
// already passed) does not enter; one verified after the retirement does.
func TestTokenCacheAddAfterRetire(t *testing.T) {
	c := newTokenCache(10)
	claims := &Claims{RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}}
	k := tokenKeyOf("token")
	epoch := c.epoch.Load()
	c.retire(map[string]bool{"old": true})
	c.add(k, epoch, "old", claims)
	if c.lru.Contains(k) {
		t.Error("added with the epoch from before the retirement: got cached, want dropped")
	}
	c.add(k, c.epoch.Load(), "new", claims)
	if !c.lru.Contains(k) {
		t.Error("added with the current epoch: got dropped, want cached")
	}
}

// TestTokenCacheEvictsLeastRecentlyUsed: the cache holds at most TokenCacheSize tokens; a new one pushes out the
// token used longest ago, not the oldest one added.
func TestTokenCacheEvictsLeastRecentlyUsed(t *testing.T) {
	fx := newCacheFixture(t, func(c *Config) { c.TokenCacheSize = 2 })
	first, second, third := fx.token(t, fx.claims("a 1")), fx.token(t, fx.claims("a 2")), fx.token(t, fx.claims("a 3"))
	for _, step := range []struct {
		token string
		want  result
	}{
		{first, admitted},
		{second, admitted},
		{first, hit}, // first is now the most recently used
		{third, admitted},
		{first, hit},
		{second, admitted}, // evicted by third
		{third, admitted},  // evicted by second
	} {
		if got := fx.get("/a", step.token); got != step.want {
			t.Errorf("token %q: got %v, want %v", step.token[len(step.token)-8:], got, step.want)
		}
	}
	if n := fx.v.cache.lru.Len(); n != 2 {
		t.Errorf("entries: got %d, want 2", n)
	}
}

// TestTokenCacheEntrySizeCap: a token whose stored claims would exceed maxCachedEntryBytes is verified on every
// request instead of cached. What counts is what the entry keeps, not the token's length: claims outside Claims
// are not stored.
func TestTokenCacheEntrySizeCap(t *testing.T) {
	fx := newCacheFixture(t, nil)
	wide := fx.claims("a " + strings.Repeat("x", maxCachedEntryBytes))
	padded := fx.claims("a")
	padded["pad"] = strings.Repeat("x", 2*maxCachedEntryBytes)
	tests := []struct {
		name         string
		claims       jwt.MapClaims
		want         result
		wantVerified int64 // full verifications for the second request
	}{
		{"a scope larger than the cap", wide, admitted, 1},
		{"a large claim the entry does not keep", padded, hit, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := fx.token(t, tt.claims)
			if got := fx.get("/a", token); got.status != http.StatusOK {
				t.Fatalf("first request: got %v, want 200", got)
			}
			before := fx.v.verifications.Load()
			if got := fx.get("/a", token); got != tt.want {
				t.Errorf("second request: got %v, want %v", got, tt.want)
			}
			if got := fx.v.verifications.Load() - before; got != tt.wantVerified {
				t.Errorf("full verifications: got %d, want %d", got, tt.wantVerified)
			}
		})
	}
}

// TestTokenCacheOff: a negative TokenCacheSize (--token-cache-size 0) verifies every request in full.
func TestTokenCacheOff(t *testing.T) {
	fx := newCacheFixture(t, func(c *Config) { c.TokenCacheSize = -1 })
	if fx.v.cache != nil {
		t.Fatal("cache built with TokenCacheSize -1")
	}
	token := fx.token(t, fx.claims("a"))
	for range 3 {
		if got := fx.get("/a", token); got != admitted {
			t.Fatalf("got %v, want %v", got, admitted)
		}
	}
	if got := fx.v.verifications.Load(); got != 3 {
		t.Errorf("full verifications for 3 requests: got %d, want 3", got)
	}
}

// TestTokenCacheDefaultSize: a zero TokenCacheSize is the default, 10,000 tokens.
func TestTokenCacheDefaultSize(t *testing.T) {
	v, err := newValidator(Config{Authority: "https://as.example", Audience: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if v.cache == nil || v.cfg.TokenCacheSize != DefaultTokenCacheSize || DefaultTokenCacheSize != 10_000 {
		t.Fatalf("got cache %v of size %d, want one of 10000", v.cache != nil, v.cfg.TokenCacheSize)
	}
	k := func(i int) tokenKey { return tokenKeyOf(fmt.Sprint(i)) }
	claims := &Claims{RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}}
	for i := range DefaultTokenCacheSize + 1 {
		v.cache.add(k(i), 0, "kid", claims)
	}
	if n := v.cache.lru.Len(); n != DefaultTokenCacheSize || v.cache.lru.Contains(k(0)) {
		t.Errorf("after %d adds: got %d entries (first still there: %v), want %d without the first",
			DefaultTokenCacheSize+1, n, v.cache.lru.Contains(k(0)), DefaultTokenCacheSize)
	}
}

// TestForgedTokensCannotEvict: only verified tokens enter the cache, so more refused tokens than it holds leave a
// cached good token where it was.
func TestForgedTokensCannotEvict(t *testing.T) {
	const size = 4
	fx := newCacheFixture(t, func(c *Config) { c.TokenCacheSize = size })
	good := fx.token(t, fx.claims("a"))
	fx.mustCache(t, "/a", good)
	for i := range 3 * size {
		forged := fx.claims("a")
		forged["jti"] = fmt.Sprint("forged-", i)
		expired := fx.claims("a")
		expired["jti"] = fmt.Sprint("expired-", i)
		expired["exp"] = fx.t0.Add(-time.Hour).Unix()
		for _, token := range []string{
			bearertest.Sign(t, bearertest.Keys(t)[2], fx.a.Header(), forged), // the authority's kid, another key
			fx.token(t, expired), // the authority's signature, invalid claims
		} {
			if got := fx.get("/a", token); got.status != http.StatusUnauthorized {
				t.Fatalf("refused token %d: got %v, want 401", i, got)
			}
		}
	}
	if got := fx.get("/a", good); got != hit {
		t.Errorf("good token after the flood: got %v, want %v", got, hit)
	}
	if n := fx.v.cache.lru.Len(); n != 1 {
		t.Errorf("entries: got %d, want 1", n)
	}
}

// TestTokenCacheHitsReturnOwnClaims: a handler that edits the claims it was given changes neither the cache nor
// what the next request for the same token sees.
func TestTokenCacheHitsReturnOwnClaims(t *testing.T) {
	fx := newCacheFixture(t, nil)
	token := fx.token(t, fx.claims("a"))
	ctx := context.Background()
	for i := range 3 {
		c, err := fx.v.Validate(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if c.Scope != "a" || c.Audience[0] != fuzzAudience || !c.ExpiresAt.Equal(fx.t0.Add(time.Hour)) {
			t.Fatalf("call %d: got scope %q, aud %q, exp %v; want what the token says", i, c.Scope, c.Audience, c.ExpiresAt)
		}
		c.Scope, c.Audience[0], c.ExpiresAt.Time = "a admin", "other.api", fx.t0.Add(24*time.Hour)
	}
	if fx.hits() != 2 {
		t.Errorf("hits: got %d, want 2", fx.hits())
	}
}

// TestTokenCacheConcurrent runs hits, misses and key retirements at once, for the race detector.
func TestTokenCacheConcurrent(t *testing.T) {
	fx := newCacheFixture(t, func(c *Config) { c.TokenCacheSize = 3 })
	var tokens []string
	for i := range 5 {
		tokens = append(tokens, fx.token(t, fx.claims(fmt.Sprint("a ", i))))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				fx.v.retireKeys(map[string]bool{"some-other-kid": true})
			}
		}
	})
	var bad atomic.Int64
	var clients sync.WaitGroup
	for g := range 8 {
		clients.Go(func() {
			for i := range 100 {
				if got := fx.get("/a", tokens[(g+i)%len(tokens)]); got.status != http.StatusOK {
					bad.Add(1)
				}
			}
		})
	}
	clients.Wait()
	close(stop)
	wg.Wait()
	if bad.Load() != 0 {
		t.Errorf("%d of 800 requests refused, want none", bad.Load())
	}
	if fx.hits() == 0 {
		t.Error("no request was a hit; the test exercised only misses")
	}
}

// TestTokenCacheMemoryBound measures what a full cache of entries at the size cap holds on the heap, against the
// worst case documented at maxCachedEntryBytes.
func TestTokenCacheMemoryBound(t *testing.T) {
	const n = 2000
	c := newTokenCache(n)
	// Largest strings that still fit: one audience, and the scope takes up the rest of the cap.
	base := Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: "http://localhost:44364", Subject: "ApiClient", Audience: jwt.ClaimStrings{"auth.web.api"},
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)), NotBefore: jwt.NewNumericDate(time.Now()),
		IssuedAt: jwt.NewNumericDate(time.Now()), ID: strings.Repeat("j", 32),
	}, ClientID: "ApiClient", Confirmation: Confirmation{X5tS256: strings.Repeat("t", 43)}}
	probe := &cachedToken{kid: "key-1", claims: &base}
	base.Scope = strings.Repeat("s", maxCachedEntryBytes-probe.size())
	if probe.size() != maxCachedEntryBytes {
		t.Fatalf("test entry: got %d bytes, want %d", probe.size(), maxCachedEntryBytes)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		claims := base
		// Strings of their own, as each parsed token has.
		claims.Scope = strings.Clone(base.Scope)
		claims.Issuer, claims.Subject, claims.ID, claims.ClientID = strings.Clone(base.Issuer), strings.Clone(base.Subject), strings.Clone(base.ID), strings.Clone(base.ClientID)
		claims.Confirmation.X5tS256 = strings.Clone(base.Confirmation.X5tS256)
		c.add(tokenKeyOf(fmt.Sprint(i)), 0, strings.Clone("key-1"), &claims)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if c.lru.Len() != n {
		t.Fatalf("entries: got %d, want %d", c.lru.Len(), n)
	}
	perEntry := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d B per entry at the cap", perEntry)
	if limit := int64(maxCachedEntryBytes) * 9 / 8; perEntry > limit {
		t.Errorf("heap per entry: got %d B, want at most %d (the cap plus allocator rounding)", perEntry, limit)
	}
	runtime.KeepAlive(c)
}

// Package bearer protects Gin routes with OAuth 2.0 bearer access tokens (RFC 6750) in the JWT profile of
// RFC 9068, verified against the signing keys an authorization server publishes through discovery and JWKS.
//
//	v, err := bearer.New(ctx, bearer.Config{Authority: "https://as.example", Audience: "api"})
//	r.GET("/api/values", v.Require("api.read"), handler)
//
// New never blocks on the network: keys load in the background, and until they have loaded every token is
// rejected with invalid_token ("signing keys not available"), Ready reports false and NotReady says why.
package bearer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Validator validates access tokens issued by one authority for one audience. It is safe for concurrent use.
type Validator struct {
	cfg        Config
	log        *slog.Logger
	keys       atomic.Pointer[keySet]
	refreshLog logThrottle
	// loadLog throttles the start-up failure warnings, whatever their cause; retry paces the attempts.
	loadLog logThrottle
	retry   retryPolicy

	mu      sync.Mutex
	loadErr error // why the last attempt to load the keys failed; nil before the first one ends

	// cache holds verified tokens; nil when Config.TokenCacheSize turns it off.
	cache *tokenCache
	// now is the clock exp, nbf and iat are checked against, by the parser and on cache hits; tests replace it
	// before the keys load.
	now func() time.Time
	// verifications counts the tokens that went through the parser, for tests.
	verifications atomic.Int64
}

// retryPolicy is how loadLoop paces its attempts: exponential backoff from min to max. now and wait are the clock;
// tests replace them to check the schedule and the log throttling without sleeping.
type retryPolicy struct {
	min, max time.Duration
	now      func() time.Time
	// wait sleeps for d and reports true, or reports false as soon as ctx is done.
	wait func(ctx context.Context, d time.Duration) bool
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// New checks cfg and starts loading the authority's keys in the background; it returns without waiting for them.
// The background work (discovery retries, periodic JWKS refresh) stops when ctx is done.
func New(ctx context.Context, cfg Config) (*Validator, error) {
	v, err := newValidator(cfg)
	if err != nil {
		return nil, err
	}
	go v.loadLoop(ctx)
	return v, nil
}

// newValidator is New without starting the background work.
func newValidator(cfg Config) (*Validator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("bearer config: %w", err)
	}
	v := &Validator{
		cfg:        cfg,
		log:        cfg.Logger.With("component", "bearer"),
		refreshLog: logThrottle{every: refreshLogEvery},
		loadLog:    logThrottle{every: refreshLogEvery},
		retry:      retryPolicy{min: backoffMin, max: backoffMax, now: time.Now, wait: sleep},
		now:        time.Now,
	}
	if cfg.TokenCacheSize > 0 {
		v.cache = newTokenCache(cfg.TokenCacheSize)
	}
	return v, nil
}

// Ready reports whether the authority's signing keys have been loaded, i.e. whether valid tokens can be accepted.
func (v *Validator) Ready() bool {
	return v.keys.Load() != nil
}

// NotReady returns nil once the signing keys are loaded, and before that why they are not: the last failure to
// load them (the authority refusing connections, timing out, announcing another issuer, serving no usable key, ...).
// The reason names the authority's URLs but never anything from a request, so it is safe to show on /readyz.
func (v *Validator) NotReady() error {
	if v.Ready() {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.loadErr == nil {
		return errors.New("loading signing keys from " + v.cfg.Authority + ": first attempt in progress")
	}
	return v.loadErr
}

func (v *Validator) setLoadErr(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.loadErr = err
}

// Issuer returns the issuer tokens must carry, as published by the authority's discovery document; empty before
// the keys are loaded.
func (v *Validator) Issuer() string {
	if ks := v.keys.Load(); ks != nil {
		return ks.issuer
	}
	return ""
}

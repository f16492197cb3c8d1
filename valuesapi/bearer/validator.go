// Package bearer protects Gin routes with OAuth 2.0 bearer access tokens (RFC 6750) in the JWT profile of
// RFC 9068, verified against the signing keys an authorization server publishes through discovery and JWKS.
//
//	v, err := bearer.New(ctx, bearer.Config{Authority: "https://as.example", Audience: "api"})
//	r.GET("/api/values", v.Require("api.read"), handler)
//
// New never blocks on the network: keys load in the background, and until they have loaded every token is
// rejected with invalid_token ("signing keys not available") and Ready reports false.
package bearer

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// Validator validates access tokens issued by one authority for one audience. It is safe for concurrent use.
type Validator struct {
	cfg        Config
	log        *slog.Logger
	keys       atomic.Pointer[keySet]
	refreshLog logThrottle
}

// New checks cfg and starts loading the authority's keys in the background; it returns without waiting for them.
// The background work (discovery retries, periodic JWKS refresh) stops when ctx is done.
func New(ctx context.Context, cfg Config) (*Validator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("bearer config: %w", err)
	}
	v := &Validator{
		cfg:        cfg,
		log:        cfg.Logger.With("component", "bearer"),
		refreshLog: logThrottle{every: refreshLogEvery},
	}
	go v.loadLoop(ctx)
	return v, nil
}

// Ready reports whether the authority's signing keys have been loaded, i.e. whether valid tokens can be accepted.
func (v *Validator) Ready() bool {
	return v.keys.Load() != nil
}

// Issuer returns the issuer tokens must carry, as published by the authority's discovery document; empty before
// the keys are loaded.
func (v *Validator) Issuer() string {
	if ks := v.keys.Load(); ks != nil {
		return ks.issuer
	}
	return ""
}

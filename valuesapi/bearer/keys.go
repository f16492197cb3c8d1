package bearer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Retry schedule while the authority is unreachable at start.
const (
	backoffMin = 250 * time.Millisecond
	backoffMax = 5 * time.Second
	// refreshLogEvery limits JWKS refresh failure logs (unknown-kid refreshes can fail once per UnknownKIDInterval)
	// and start-up failure logs (an attempt every backoffMax).
	refreshLogEvery = time.Minute
)

// keySet is everything that depends on the discovery document. It is published once, atomically, when the first
// JWKS has loaded; until then the Validator is not ready.
type keySet struct {
	issuer  string
	jwksURI string
	keys    keyfunc.Keyfunc
	parser  *jwt.Parser
	// stop ends keyfunc's refresh goroutine; it runs until the context given to New is done.
	stop context.CancelFunc
}

// loadLoop retries discovery and the first JWKS fetch with exponential backoff until it succeeds or ctx ends.
// Each failure becomes the NotReady reason; the warning that says why is logged for the first failure and then
// at most once per refreshLogEvery, whatever the cause, so a long outage costs a line a minute.
func (v *Validator) loadLoop(ctx context.Context) {
	delay := v.retry.min
	for attempt := 1; ; attempt++ {
		// keyfunc starts its refresh goroutine before the first fetch and keeps it when that fetch fails, so each
		// attempt runs under its own context, cancelled unless the attempt succeeds.
		attemptCtx, cancel := context.WithCancel(ctx)
		ks, err := v.loadKeys(attemptCtx)
		if err != nil {
			cancel()
		} else {
			ks.stop = cancel
			v.keys.Store(ks)
			v.log.Info("signing keys loaded", "issuer", ks.issuer, "jwks_uri", ks.jwksURI, "attempts", attempt)
			return
		}
		if ctx.Err() != nil {
			return
		}
		v.setLoadErr(err)
		if n, ok := v.loadLog.allow(v.retry.now()); ok {
			v.log.Warn("signing keys not loaded, retrying", "authority", v.cfg.Authority, "attempt", attempt, "retry_in", delay, "error", err, "suppressed", n)
		}
		if !v.retry.wait(ctx, delay) {
			return
		}
		delay = min(delay*2, v.retry.max)
	}
}

// loadKeys makes one attempt: discovery, then the first JWKS fetch, which from then on is refreshed every
// RefreshInterval and on unknown kids. The storage is jwkset's HTTP storage, as keyfunc.NewDefaultOverrideCtx would
// build it, but over lastGoodKeys, so an answer without a usable signing key never replaces the current keys.
func (v *Validator) loadKeys(ctx context.Context) (*keySet, error) {
	dctx, cancel := context.WithTimeout(ctx, v.cfg.FetchTimeout)
	d, err := fetchDiscovery(dctx, v.cfg.HTTPClient, v.cfg.Authority, v.cfg.secureEnough)
	cancel()
	if err != nil {
		return nil, v.explainTimeout(err)
	}

	remote, err := jwkset.NewStorageFromHTTP(d.JWKSURI, jwkset.HTTPClientStorageOptions{
		Client:              v.cfg.HTTPClient,
		Ctx:                 ctx,
		HTTPTimeout:         v.cfg.FetchTimeout,
		RefreshErrorHandler: v.refreshFailed(d.JWKSURI),
		RefreshInterval:     v.cfg.RefreshInterval,
		Storage:             &lastGoodKeys{Storage: jwkset.NewMemoryStorage(), retired: v.retireKeys},
	})
	switch {
	case errors.Is(err, errNoSigningKey):
		// jwkset's wrapping ("failed to delete all keys from storage") would hide the point.
		return nil, fmt.Errorf("%s: %w", d.JWKSURI, errNoSigningKey)
	case err != nil:
		return nil, v.explainTimeout(fmt.Errorf("fetching JWKS %s: %w", d.JWKSURI, err))
	}
	client, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs: map[string]jwkset.Storage{d.JWKSURI: remote},
		// The client's "given" storage is always empty here. Looking there first (the default) would fail every
		// lookup once, and jwkset builds a formatted error for each miss: three allocations per request for nothing.
		PrioritizeHTTP:    true,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(v.cfg.UnknownKIDInterval), 1),
		// Bounds both the wait for the limiter and the refresh itself (jwkset uses one context for both). A wait
		// that would not end before the deadline fails at once, so a request never queues behind the limiter
		// longer than FetchTimeout.
		RateLimitWaitMax: v.cfg.FetchTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("loading JWKS: %w", err)
	}
	// Keys marked for encryption are refused; keys without "use" stay usable. keyFor applies the same list, since it
	// reads the storage itself; the option stays so that keyfunc's own Keyfunc, if anything calls it, agrees.
	kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: client, UseWhitelist: signingUses})
	if err != nil {
		return nil, fmt.Errorf("loading JWKS: %w", err)
	}
	return &keySet{
		issuer:  d.Issuer,
		jwksURI: d.JWKSURI,
		keys:    kf,
		parser: jwt.NewParser(
			jwt.WithValidMethods(v.cfg.Algorithms),
			jwt.WithIssuer(d.Issuer),
			jwt.WithAudience(v.cfg.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(v.cfg.Leeway),
			jwt.WithStrictDecoding(),
			jwt.WithTimeFunc(v.now),
		),
	}, nil
}

// explainTimeout adds the configured bound to a fetch that ran out of time, since "context deadline exceeded"
// alone does not say which setting to look at.
func (v *Validator) explainTimeout(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (no answer within the fetch timeout of %v)", err, v.cfg.FetchTimeout)
	}
	return err
}

// refreshFailed builds keyfunc's RefreshErrorHandler. keyfunc's default logs at ERROR on every failure; periodic
// and unknown-kid refreshes during an authority outage would repeat that endlessly, so failures are summarised at
// most once per refreshLogEvery.
func (v *Validator) refreshFailed(jwksURI string) func(ctx context.Context, err error) {
	return func(ctx context.Context, err error) {
		if n, ok := v.refreshLog.allow(time.Now()); ok {
			v.log.WarnContext(ctx, "JWKS refresh failed, keeping current keys", "jwks_uri", jwksURI, "error", err, "suppressed", n)
		}
	}
}

// keyFor returns the jwt.Keyfunc for one request. It enforces the header rules keyfunc does not (RFC 9068 typ,
// kid present, no crit) and then looks the kid up in the JWKS only: jwk, jku, x5u and x5c headers are ignored,
// so a token can never point us at a key of its choosing.
//
// The lookup reads the JWK from keyfunc's storage itself rather than through keyfunc's Keyfunc, because the token's
// alg is checked against the whole JWK (checkKeyAlgorithm): keyfunc compares it with the JWK's alg only when the JWK
// has one, and never with the key's type, and its refusal would read as an unknown key.
func keyFor(ctx context.Context, ks *keySet) jwt.Keyfunc {
	storage := ks.keys.Storage()
	return func(t *jwt.Token) (any, error) {
		if err := checkHeader(t.Header); err != nil {
			return nil, err
		}
		kid, _ := t.Header["kid"].(string) // checkHeader refused any other
		jwk, err := storage.KeyRead(ctx, kid)
		if err != nil {
			// jwkset reports an unknown-kid refresh that timed out only to RefreshErrorHandler and then answers
			// "not found". The request's context tells the two apart: once it is done, the keys could not be
			// checked in time, which is the authority's fault (or the client left), not the token's.
			if ctx.Err() != nil {
				return nil, ErrKeysUnavailable.because(err)
			}
			return nil, errUnknownKey.because(err)
		}
		m := jwk.Marshal()
		if !slices.Contains(signingUses, m.USE) {
			return nil, errUnknownKey.because(fmt.Errorf("JWK %q has use %q", kid, m.USE))
		}
		key := jwk.Key()
		if private, ok := key.(interface{ Public() crypto.PublicKey }); ok {
			key = private.Public() // a JWKS that leaks a private key still verifies with its public half only
		}
		if err := checkKeyAlgorithm(t.Method.Alg(), m.ALG.String(), key); err != nil {
			return nil, errKeyAlgorithm.because(fmt.Errorf("kid %q: %w", kid, err))
		}
		return key, nil
	}
}

// checkKeyAlgorithm checks that a token signed with alg may be verified with key, published with the JWK alg jwkAlg
// (empty when the JWK has none). A key is for one algorithm (RFC 8725 3.1): a JWK that names its alg admits that alg
// alone, so an RS256 key does not verify PS256 tokens although it could; one that does not name it admits the
// algorithms of its key type (RS* and PS* for RSA, ES256/384/512 for P-256/384/521, EdDSA for Ed25519). The
// allow-list has been checked before: the parser refuses other algorithms before it asks for a key.
func checkKeyAlgorithm(alg, jwkAlg string, key any) error {
	if jwkAlg != "" && jwkAlg != alg {
		return fmt.Errorf("token alg %s, key published for %s", alg, jwkAlg)
	}
	fits := false
	switch k := key.(type) {
	case *rsa.PublicKey:
		fits = slices.Contains([]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, alg)
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			fits = alg == "ES256"
		case elliptic.P384():
			fits = alg == "ES384"
		case elliptic.P521():
			fits = alg == "ES512"
		}
	case ed25519.PublicKey:
		fits = alg == "EdDSA"
	}
	if !fits {
		return fmt.Errorf("token alg %s does not fit a %T key", alg, key)
	}
	return nil
}

func checkHeader(h map[string]any) error {
	typ, _ := h["typ"].(string)
	if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return errType
	}
	if kid, _ := h["kid"].(string); kid == "" {
		return errNoKeyID
	}
	// RFC 7515 4.1.11: a recipient must reject a token whose crit lists an extension it does not implement; we
	// implement none, so any crit (even a malformed one) is fatal.
	if _, ok := h["crit"]; ok {
		return errCritical
	}
	return nil
}

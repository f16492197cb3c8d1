package bearer

import (
	"context"
	"crypto/tls"
	"errors"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// maxTokenBytes caps the token we are willing to parse; an RS256 access token is well under 2 KiB.
const maxTokenBytes = 8 << 10

// Claims are the RFC 9068 access-token claims a Validator returns.
type Claims struct {
	jwt.RegisteredClaims
	ClientID string `json:"client_id,omitempty"`
	// Scope is the space-delimited scope string (RFC 9068 2.2.3, RFC 6749 3.3).
	Scope string `json:"scope,omitempty"`
	// Confirmation is the cnf claim; ValidateTLS has checked a certificate binding it carries.
	Confirmation Confirmation `json:"cnf,omitzero"`
}

// HasScope reports whether scope is one of the token's scopes (exact, case-sensitive match). It runs on every
// request, so it walks the scope string instead of building a slice.
func (c *Claims) HasScope(scope string) bool {
	for s := range strings.SplitSeq(c.Scope, " ") {
		if s != "" && s == scope {
			return true
		}
	}
	return false
}

// Validate is ValidateTLS for a token that did not come over TLS: a token bound to a client certificate is refused,
// since nothing here can prove the caller holds it.
func (v *Validator) Validate(ctx context.Context, raw string) (*Claims, error) {
	return v.ValidateTLS(ctx, raw, nil)
}

// ValidateTLS checks a raw access token presented on a connection with TLS state conn (the request's r.TLS; nil
// over plain HTTP) and returns its claims. A token bound to a client certificate (cnf x5t#S256, RFC 8705 3) passes
// only when conn's client presented that certificate; a token without cnf passes with or without one.
func (v *Validator) ValidateTLS(ctx context.Context, raw string, conn *tls.ConnectionState) (*Claims, error) {
	claims, err := v.validate(ctx, raw)
	if err != nil {
		return nil, err
	}
	// After the cache too: a hit returns the cnf it stored, so a token verified once over the right connection is
	// still refused on another.
	if err := checkBinding(claims, conn); err != nil {
		return nil, err
	}
	return claims, nil
}

// validate checks everything but the certificate binding. It never blocks longer than FetchTimeout: before the
// keys are loaded it fails at once with ErrKeysUnavailable, and an unknown kid triggers at most one rate-limited
// JWKS refresh bounded by the same timeout. Errors are *Error values; scope is not checked here.
//
// A token that passes is remembered (Config.TokenCacheSize), keyed by a hash of the whole token: the same token
// again is answered from memory after its exp, nbf and iat are checked against the clock, until its key leaves the
// JWKS. Every call returns claims of its own, whether remembered or not.
func (v *Validator) validate(ctx context.Context, raw string) (*Claims, error) {
	if raw == "" {
		return nil, errMalformedToken
	}
	if len(raw) > maxTokenBytes {
		return nil, errTokenTooLarge
	}
	var key tokenKey
	var epoch uint64
	if v.cache != nil {
		key = tokenKeyOf(raw)
		if claims, ok := v.cache.get(key, v.now(), v.cfg.Leeway); ok {
			return claims, nil
		}
		// Read before the key lookup, so add can tell whether a key retirement ran meanwhile.
		epoch = v.cache.epoch.Load()
	}
	ks := v.keys.Load()
	if ks == nil {
		return nil, ErrKeysUnavailable
	}
	ctx, cancel := context.WithTimeout(ctx, v.cfg.FetchTimeout)
	defer cancel()
	v.verifications.Add(1)
	claims := &Claims{}
	token, err := ks.parser.ParseWithClaims(raw, claims, keyFor(ctx, ks))
	if err != nil {
		return nil, v.classify(token, err)
	}
	if v.cache != nil {
		// checkHeader refused a token without a string kid, so this is the kid of the key that verified it.
		kid, _ := token.Header["kid"].(string)
		v.cache.add(key, epoch, kid, claims)
	}
	return claims, nil
}

// retireKeys is lastGoodKeys' hook: the JWKS no longer holds the keys with these kids, or holds other keys under
// them, so no token they verified may be answered from the cache any more.
func (v *Validator) retireKeys(kids map[string]bool) {
	if v.cache != nil {
		v.cache.retire(kids)
	}
}

// classify maps a golang-jwt error to the fixed client-facing description, keeping the original as the cause.
func (v *Validator) classify(token *jwt.Token, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	algAllowed := token != nil && token.Method != nil && slices.Contains(v.cfg.Algorithms, token.Method.Alg())
	var out *Error
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		out = errMalformedToken
	case errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, jwt.ErrTokenSignatureInvalid) && !algAllowed:
		// Unknown or missing alg, or one outside the allow-list (this is how alg=none and HS256 end).
		out = errAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		out = errSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		out = errExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		out = errNotYetValid
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		out = errIssuedInFuture
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		out = errIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		out = errAudience
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		out = errMissingClaim
	default:
		out = errClaims
	}
	return out.because(err)
}

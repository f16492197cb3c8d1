package bearer

import (
	"fmt"
	"strings"

	"github.com/gin-gonic/gin"
)

// claimsKey is the gin context key under which Require stores the validated *Claims.
const claimsKey = "github.com/tokenbearer/valuesapi/bearer.claims"

// Require returns Gin middleware that admits only requests with a valid bearer token holding every one of scopes.
// It answers 401 (no or invalid token) or 403 (insufficient_scope) with the RFC 6750 challenge and aborts; on success
// the claims are available to later handlers through ClaimsFrom. It panics if a scope is not a valid RFC 6749
// scope-token, since that is a programming error that would otherwise corrupt the challenge header.
func (v *Validator) Require(scopes ...string) gin.HandlerFunc {
	for _, s := range scopes {
		if !IsScopeToken(s) {
			panic(fmt.Sprintf("bearer: invalid scope %q", s))
		}
	}
	required := strings.Join(scopes, " ")
	return func(c *gin.Context) {
		raw, err := TokenFromHeader(c.Request.Header)
		var claims *Claims
		if err == nil {
			claims, err = v.Validate(c.Request.Context(), raw)
		}
		if err == nil {
			for _, s := range scopes {
				if !claims.HasScope(s) {
					err = ErrInsufficientScope
					break
				}
			}
		}
		if err != nil {
			// Debug: rejections are routine and attacker-driven; the cause never includes the token itself.
			v.log.DebugContext(c.Request.Context(), "bearer token rejected", "path", c.Request.URL.Path, "error", err)
			WriteError(c.Writer, v.cfg.Realm, err, required)
			c.Abort()
			return
		}
		c.Set(claimsKey, claims)
		c.Next()
	}
}

// IsScopeToken reports whether s is a single RFC 6749 3.3 scope-token, 1*( %x21 / %x23-5B / %x5D-7E ): the scopes
// Require accepts, since each is echoed in the WWW-Authenticate challenge. Check a configured scope with it before
// calling Require.
func IsScopeToken(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' || r == '"' || r == '\\' })
}

// ClaimsFrom returns the claims Require stored for this request.
func ClaimsFrom(c *gin.Context) (*Claims, bool) {
	v, ok := c.Get(claimsKey)
	if !ok {
		return nil, false
	}
	claims, ok := v.(*Claims)
	return claims, ok
}

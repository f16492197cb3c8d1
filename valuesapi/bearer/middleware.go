package bearer

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// claimsKey is the gin context key under which Require stores the validated *Claims.
const claimsKey = "github.com/tokenbearer/valuesapi/bearer.claims"

// Require returns Gin middleware that admits only requests with a valid bearer token holding every one of scopes,
// presented with the client certificate the token is bound to, if it is bound to one (ValidateTLS).
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
			claims, err = v.ValidateTLS(c.Request.Context(), raw, c.Request.TLS)
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
			v.logRejection(c.Request, err)
			WriteError(c.Writer, v.cfg.Realm, err, required)
			c.Abort()
			return
		}
		c.Set(claimsKey, claims)
		c.Next()
	}
}

// logRejection says why a request was refused. Info carries only the fixed phrase the client was sent as
// error_description, so an operator sees why a token was refused without the log repeating anything the request
// chose; the library's cause (which may quote a kid) goes to Debug. Neither ever holds the token or the header.
func (v *Validator) logRejection(r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = invalidToken("invalid token")
	}
	ctx := r.Context()
	v.log.InfoContext(ctx, "bearer token rejected", "path", r.URL.Path, "status", e.status(), "error", e.Code, "reason", e.Description)
	if e.cause != nil {
		v.log.DebugContext(ctx, "bearer token rejection cause", "path", r.URL.Path, "reason", e.Description, "cause", e.cause)
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

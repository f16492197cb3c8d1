package main

import (
	"crypto/x509"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tokenbearer/authserver/internal/accesstoken"
	"github.com/tokenbearer/authserver/internal/keystore"
	"github.com/tokenbearer/authserver/internal/registry"
	"github.com/tokenbearer/httpserver"
)

// clientTLS is what the token endpoint knows of its clients' certificates.
type clientTLS struct {
	// on says the server terminates TLS itself, so that a client
	// certificate can reach it: the certificate methods exist only then.
	on bool
	// roots are the --client-ca authorities that tls_client_auth
	// certificates chain to; nil without --client-ca.
	roots *x509.CertPool
}

// NewServer returns the authorization server's HTTP handler. issuer must
// already be normalized (no trailing slash).
func NewServer(logger *slog.Logger, issuer string, tokenLifetime time.Duration, reg *registry.Registry, keys *keystore.Store, limiter *authThrottle, ctls clientTLS) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// Paths are exact; a redirect of a POST to /connect/token/ helps nobody.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	// A method a path lacks gets 405 (see NoMethod in routes.go), not 404.
	r.HandleMethodNotAllowed = true
	// The client IP is the TCP peer. X-Forwarded-For and friends are set by
	// whoever sends the request, so no proxy is trusted, not even over a
	// unix socket, which gin otherwise trusts.
	r.ForwardedByClientIP = false
	if err := r.SetTrustedProxies(nil); err != nil {
		panic(err) // cannot fail for nil
	}
	// The request logger is outermost so it sees the 500 written by recovery.
	r.Use(httpserver.LogRequests(logger), httpserver.RecoverJSON(logger, errorBody{
		Error:       "server_error",
		Description: "internal server error",
	}))
	minter := &accesstoken.Minter{Issuer: issuer, Lifetime: tokenLifetime, Keys: keys}
	addRoutes(r, logger, issuer, reg, keys, minter, limiter, ctls)
	return r
}

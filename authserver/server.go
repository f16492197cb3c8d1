package main

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tokenbearer/authserver/internal/accesstoken"
	"github.com/tokenbearer/authserver/internal/keystore"
	"github.com/tokenbearer/authserver/internal/registry"
)

// NewServer returns the authorization server's HTTP handler. issuer must
// already be normalized (no trailing slash).
func NewServer(logger *slog.Logger, issuer string, tokenLifetime time.Duration, reg *registry.Registry, keys *keystore.Store) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// Paths are exact; a redirect of a POST to /connect/token/ helps nobody.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	// The request logger is outermost so it sees the 500 written by recovery.
	r.Use(logRequests(logger), recoverJSON(logger))
	minter := &accesstoken.Minter{Issuer: issuer, Lifetime: tokenLifetime, Keys: keys}
	addRoutes(r, logger, issuer, reg, keys, minter)
	return r
}

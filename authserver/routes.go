package main

import (
	"log/slog"

	"github.com/gin-gonic/gin"
	"github.com/tokenbearer/authserver/internal/accesstoken"
	"github.com/tokenbearer/authserver/internal/keystore"
	"github.com/tokenbearer/authserver/internal/registry"
)

// Paths served, relative to the issuer.
const (
	pathOpenIDConfiguration = "/.well-known/openid-configuration"
	pathOAuthMetadata       = "/.well-known/oauth-authorization-server"
	pathJWKS                = "/.well-known/openid-configuration/jwks"
	pathToken               = "/connect/token"
)

func addRoutes(r *gin.Engine, logger *slog.Logger, issuer string, reg *registry.Registry, keys *keystore.Store, minter *accesstoken.Minter, limiter *authThrottle, ctls clientTLS) {
	r.GET("/healthz", handleHealthz())
	r.GET("/readyz", handleReadyz(keys))

	discovery := handleDiscovery(issuer, reg, ctls)
	r.GET(pathOpenIDConfiguration, discovery)
	r.GET(pathOAuthMetadata, discovery)
	r.GET(pathJWKS, handleJWKS(keys))

	// Every other method reaches the token handler through NoMethod, so that
	// it too gets the OAuth JSON error and the no-store headers.
	token := handleToken(logger, reg, minter, limiter, ctls)
	r.POST(pathToken, token)

	r.NoMethod(handleMethodNotAllowed(pathToken, token))
	r.NoRoute(handleNotFound())
}

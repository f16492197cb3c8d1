package main

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tokenbearer/authserver/internal/registry"
)

// handleDiscovery serves the RFC 8414 / OpenID Connect Discovery metadata.
// It lists only what the server has: no authorization endpoint, no response
// types, since there is no interactive flow.
func handleDiscovery(issuer string, reg *registry.Registry) gin.HandlerFunc {
	type document struct {
		Issuer                            string   `json:"issuer"`
		JWKSURI                           string   `json:"jwks_uri"`
		TokenEndpoint                     string   `json:"token_endpoint"`
		GrantTypesSupported               []string `json:"grant_types_supported"`
		TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
		ScopesSupported                   []string `json:"scopes_supported"`
	}
	doc := document{
		Issuer:                            issuer,
		JWKSURI:                           issuer + pathJWKS,
		TokenEndpoint:                     issuer + pathToken,
		GrantTypesSupported:               registry.SupportedGrantTypes,
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
		ScopesSupported:                   reg.Scopes(),
	}
	return func(c *gin.Context) {
		c.JSON(http.StatusOK, doc)
	}
}

package main

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tokenbearer/authserver/internal/registry"
)

// handleDiscovery serves the RFC 8414 / OpenID Connect Discovery metadata.
// It lists only what the server has: no authorization endpoint, no response
// types, since there is no interactive flow; the certificate methods only
// when the server speaks TLS itself, since over plain HTTP (or behind a
// proxy that ends TLS) no client certificate reaches it, and
// tls_client_auth only with --client-ca, the authorities it needs.
//
// There is no mtls_endpoint_aliases (RFC 8705 5): the same endpoints serve
// clients with and without certificates, since the server requests a
// certificate on every handshake and never requires one.
func handleDiscovery(issuer string, reg *registry.Registry, ctls clientTLS) gin.HandlerFunc {
	type document struct {
		Issuer                            string   `json:"issuer"`
		JWKSURI                           string   `json:"jwks_uri"`
		TokenEndpoint                     string   `json:"token_endpoint"`
		GrantTypesSupported               []string `json:"grant_types_supported"`
		TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
		ScopesSupported                   []string `json:"scopes_supported"`
		// RFC 8705 3.3: tokens of certificate clients carry cnf.
		TLSClientCertificateBoundAccessTokens bool `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	}
	methods := []string{registry.AuthSecretBasic, registry.AuthSecretPost}
	if ctls.on && ctls.roots != nil {
		methods = append(methods, registry.AuthTLS)
	}
	if ctls.on {
		methods = append(methods, registry.AuthSelfSignedTLS)
	}
	doc := document{
		Issuer:                                issuer,
		JWKSURI:                               issuer + pathJWKS,
		TokenEndpoint:                         issuer + pathToken,
		GrantTypesSupported:                   registry.SupportedGrantTypes,
		TokenEndpointAuthMethodsSupported:     methods,
		ScopesSupported:                       reg.Scopes(),
		TLSClientCertificateBoundAccessTokens: ctls.on,
	}
	return func(c *gin.Context) {
		c.JSON(http.StatusOK, doc)
	}
}

package main

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tokenbearer/authserver/internal/keystore"
)

// jwksMaxAge bounds how long caches keep the key set. Resource servers also
// refetch on an unknown kid, so a new key is found sooner.
const jwksMaxAge = "public, max-age=3600"

// handleJWKS publishes the public half of every key in the store.
func handleJWKS(keys *keystore.Store) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", jwksMaxAge)
		c.JSON(http.StatusOK, keys.PublicJWKS())
	}
}

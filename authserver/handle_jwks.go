package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tokenbearer/authserver/internal/keystore"
)

// jwksCacheFor bounds how long caches keep the key set, well under the
// default --key-announce of 14 days. Resource servers also refetch on an
// unknown kid, so a new key is found sooner.
const jwksCacheFor = time.Hour

var jwksMaxAge = fmt.Sprintf("public, max-age=%d", int(jwksCacheFor.Seconds()))

// handleJWKS publishes the public half of every key in the store.
func handleJWKS(keys *keystore.Store) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", jwksMaxAge)
		c.JSON(http.StatusOK, keys.PublicJWKS())
	}
}

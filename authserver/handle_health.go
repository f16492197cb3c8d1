package main

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tokenbearer/authserver/internal/keystore"
)

type healthResponse struct {
	Status string `json:"status"`
}

func handleHealthz() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.JSON(http.StatusOK, healthResponse{Status: "ok"})
	}
}

// handleReadyz reports ready once a signing key is active.
func handleReadyz(keys *keystore.Store) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, err := keys.Signing(); err != nil {
			c.JSON(http.StatusServiceUnavailable, healthResponse{Status: "not ready"})
			return
		}
		c.JSON(http.StatusOK, healthResponse{Status: "ready"})
	}
}

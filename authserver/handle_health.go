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

func handleNotFound() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.JSON(http.StatusNotFound, errorBody{Error: "not_found", Description: "no such endpoint"})
	}
}

// handleMethodNotAllowed answers a known path asked with a method it lacks
// (gin has set Allow); requests to tokenPath go to the token handler.
func handleMethodNotAllowed(tokenPath string, token gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.URL.Path == tokenPath {
			token(c)
			return
		}
		c.JSON(http.StatusMethodNotAllowed, errorBody{Error: "method_not_allowed", Description: "method not allowed for this endpoint"})
	}
}

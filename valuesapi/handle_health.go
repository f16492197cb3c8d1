package main

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

type statusResponse struct {
	Status string `json:"status"`
}

// handleHealthz answers 200 whenever the process serves (liveness).
func handleHealthz() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.JSON(http.StatusOK, statusResponse{Status: "ok"})
	}
}

// readier is what /readyz needs to know: whether the authority's signing keys are loaded.
type readier interface{ Ready() bool }

// handleReadyz answers 200 once tokens can be validated and 503 before, so orchestrators hold traffic until then.
func handleReadyz(r readier) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !r.Ready() {
			c.JSON(http.StatusServiceUnavailable, statusResponse{Status: "not ready"})
			return
		}
		c.JSON(http.StatusOK, statusResponse{Status: "ready"})
	}
}

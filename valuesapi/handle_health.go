package main

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

type statusResponse struct {
	Status string `json:"status"`
	// Reason says why the service is not ready; a valid token is refused until then, and this is where the
	// operator learns that the authority, not the token, is at fault.
	Reason string `json:"reason,omitempty"`
}

// handleHealthz answers 200 whenever the process serves (liveness).
func handleHealthz() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.JSON(http.StatusOK, statusResponse{Status: "ok"})
	}
}

// readier is what /readyz needs to know: whether the authority's signing keys are loaded, and if not, why.
type readier interface{ NotReady() error }

// handleReadyz answers 200 once tokens can be validated and 503 with the reason before, so orchestrators hold
// traffic until then and a person reading the probe sees what is wrong. The reason names only the authority's
// URLs and what they answered, never anything from a request.
func handleReadyz(r readier) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := r.NotReady(); err != nil {
			c.JSON(http.StatusServiceUnavailable, statusResponse{Status: "not ready", Reason: err.Error()})
			return
		}
		c.JSON(http.StatusOK, statusResponse{Status: "ready"})
	}
}

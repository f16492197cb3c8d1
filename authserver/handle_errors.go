package main

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// errorBody is the RFC 6749 5.2 error shape, used for every JSON error.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// handleNotFound keeps unknown paths JSON like every other answer.
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

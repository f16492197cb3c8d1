package main

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

type errorResponse struct {
	Error string `json:"error"`
}

// handleNotFound keeps unknown paths JSON like every other answer.
func handleNotFound() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.JSON(http.StatusNotFound, errorResponse{Error: "not found"})
	}
}

// handleMethodNotAllowed answers 405 for a known path with the wrong method; gin sets the Allow header.
func handleMethodNotAllowed() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.JSON(http.StatusMethodNotAllowed, errorResponse{Error: "method not allowed"})
	}
}

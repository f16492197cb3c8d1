package main

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// handleValues is the article's ValuesController.Get; it runs only after bearer.Require admitted the request.
func handleValues() gin.HandlerFunc {
	values := []string{"value1", "value2"}
	return func(c *gin.Context) {
		c.JSON(http.StatusOK, values)
	}
}

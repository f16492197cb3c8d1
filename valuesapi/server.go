package main

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/tokenbearer/httpserver"
	"github.com/tokenbearer/valuesapi/bearer"
)

// NewServer builds the whole HTTP handler: middleware that applies to every request, then the routes.
func NewServer(logger *slog.Logger, v *bearer.Validator, scope string) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// Behind no proxy by default: never trust X-Forwarded-For for the client IP.
	_ = r.SetTrustedProxies(nil)
	r.HandleMethodNotAllowed = true
	r.Use(httpserver.LogRequests(logger), httpserver.RecoverJSON(logger, errorResponse{Error: "internal server error"}))
	addRoutes(r, v, scope)
	return r
}

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
)

// logRequests logs one line per request. It never logs headers or the query
// string, which may carry credentials. remote is the TCP peer: NewServer
// trusts no forwarding header.
func logRequests(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		logger.Log(c.Request.Context(), requestLogLevel(c.Request.URL.Path), "request",
			"method", c.Request.Method,
			"path", c.Request.URL.Path,
			"status", c.Writer.Status(),
			"duration", time.Since(start),
			"remote", c.ClientIP(),
		)
	}
}

// recoverJSON turns a panic into a JSON 500 that reveals nothing of the
// cause; the cause goes to the log.
func recoverJSON(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			logger.Error("panic serving request",
				"method", c.Request.Method,
				"path", c.Request.URL.Path,
				"panic", fmt.Sprint(v),
				"stack", string(debug.Stack()),
			)
			if c.Writer.Written() {
				c.Abort()
				return
			}
			c.AbortWithStatusJSON(http.StatusInternalServerError, errorBody{
				Error:       "server_error",
				Description: "internal server error",
			})
		}()
		c.Next()
	}
}

// errorBody is the RFC 6749 5.2 error shape, used for every JSON error.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// requestLogLevel keeps health probes, which container runtimes send every few seconds, out of the default log.
func requestLogLevel(path string) slog.Level {
	if path == "/healthz" || path == "/readyz" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

package httpserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
)

// LogRequests logs one line per request: method, path, status, duration and the TCP peer. It never logs headers
// (Authorization) or the query string, which may carry credentials. remote is the TCP peer as long as the engine
// trusts no forwarding header (gin.Engine.SetTrustedProxies(nil)). Health probes, which container runtimes send
// every few seconds, log at Debug.
func LogRequests(logger *slog.Logger) gin.HandlerFunc {
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

func requestLogLevel(path string) slog.Level {
	if path == "/healthz" || path == "/readyz" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// RecoverJSON turns a panic in a handler into a 500 with body, which must reveal nothing of the cause; the cause
// and its stack go to the log. net/http's deliberate http.ErrAbortHandler panic is passed on to the server.
func RecoverJSON(logger *slog.Logger, body any) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			logger.ErrorContext(c.Request.Context(), "panic serving request",
				"method", c.Request.Method,
				"path", c.Request.URL.Path,
				"panic", fmt.Sprint(v),
				"stack", string(debug.Stack()),
			)
			if c.Writer.Written() {
				c.Abort()
				return
			}
			c.AbortWithStatusJSON(http.StatusInternalServerError, body)
		}()
		c.Next()
	}
}

package httpserver

import (
	"log/slog"
	"net/http"
	"time"
)

// New returns a server for h that bounds how long and how much a client may send, so slow or oversized requests
// cannot pin connections (Slowloris) or memory. MaxHeaderBytes bounds the Authorization header before any
// handler sees it: net/http answers 431 to a larger header block (it allows 4 KiB of slack). Server errors go to
// logger at Warn.
func New(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Serve serves srv on ln until ctx is done, then shuts down within shutdownTimeout letting every request in
// flight finish, including one whose header is still arriving. It returns nil after a clean shutdown.
//
// srv.Shutdown alone drops such a request (net/http hangs up on any request read after shutdown began). So Serve
// stops accepting, turns keep-alives off, lets every open connection finish its request and close, and only then
// calls Shutdown. Serve sets srv.ConnState to count the connections. With srv.TLSConfig set (TLSConfig) it serves
// HTTPS, HTTP/2 included.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, shutdownTimeout time.Duration, logger *slog.Logger) error {
	var conns connCounter
	srv.ConnState = conns.track
	logger.Info("listening", "addr", ln.Addr().String(), "tls", srv.TLSConfig != nil)
	served := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			// The certificate comes from TLSConfig (GetCertificate); ServeTLS also turns HTTP/2 on.
			served <- srv.ServeTLS(ln, "", "")
			return
		}
		served <- srv.Serve(ln)
	}()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down", "timeout", shutdownTimeout)
	// ctx is already done; the shutdown deadline must come from a context that is not.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	_ = ln.Close()
	// Serve returns once the listener is closed; every accepted connection is already counted.
	if err := <-served; !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	// SetKeepAlivesEnabled(false) closes the connections idle at that moment and makes every other one close
	// after its current request.
	if err := conns.drain(sctx, func() { srv.SetKeepAlivesEnabled(false) }); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	logger.Info("stopped")
	return nil
}

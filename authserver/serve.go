package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/tokenbearer/authserver/internal/keystore"
	"github.com/tokenbearer/authserver/internal/registry"
)

// serve runs the HTTP server until ctx is done, then shuts it down letting
// in-flight requests finish.
func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	cfg, err := parseConfig("authserver", args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading configuration: %w", err)
	}
	logger.Info("config", cfg.logAttrs()...)

	reg, err := loadRegistry(cfg.ConfigPath)
	if err != nil {
		return err
	}
	if cfg.ConfigPath == "" {
		logger.Warn("the embedded demo client is active (client ApiClient, secret \"secret\"); " +
			"replace it: run `authserver hash-secret` and pass a YAML file of your clients with --config")
	}
	logger.Info("clients loaded", "client_ids", reg.ClientIDs(), "scopes", reg.Scopes())

	key, created, err := keystore.LoadOrCreateRSA(cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("loading signing key: %w", err)
	}
	keys := keystore.New()
	if err := keys.Add(key); err != nil {
		return err
	}
	if err := keys.Activate(key.ID); err != nil {
		return err
	}
	logger.Info("signing key ready", "kid", key.ID, "alg", key.Algorithm, "file", cfg.KeyFile, "created", created)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	limiter := newAuthThrottle(cfg.FailuresPerClient, cfg.FailuresPerAddr, time.Now)
	srv := newHTTPServer(NewServer(logger, cfg.Issuer, cfg.TokenLifetime, reg, keys, limiter), logger)
	var conns connCounter
	srv.ConnState = conns.track
	logger.Info("listening", "addr", ln.Addr().String())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	// srv.Shutdown alone drops a request whose header is still arriving when it starts (net/http hangs up on
	// any request read after shutdown began). So stop accepting, turn keep-alives off, let every open
	// connection finish its request and close, and only then Shutdown.
	srv.SetKeepAlivesEnabled(false)
	_ = ln.Close()
	if err := <-served; !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	if err := conns.drain(shutdownCtx, func() { srv.SetKeepAlivesEnabled(false) }); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// newHTTPServer bounds how long and how much a client may send, so slow or
// oversized requests cannot pin connections (Slowloris) or memory.
func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
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

func loadRegistry(path string) (*registry.Registry, error) {
	if path == "" {
		return registry.Demo()
	}
	return registry.Load(path)
}

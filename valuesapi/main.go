// Command valuesapi is the protected Web API of the article: GET /api/values answers ["value1","value2"] to a
// request bearing a valid access token from the configured authority.
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
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tokenbearer/valuesapi/bearer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "valuesapi:", err)
		stop()
		os.Exit(1)
	}
}

// run is the whole program; it returns when ctx is done (after a graceful shutdown) or on a fatal error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	name, rest := "valuesapi", []string{}
	if len(args) > 0 {
		name, rest = args[0], args[1:]
	}
	command := "serve"
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		command, rest = rest[0], rest[1:]
	}
	cfg, err := parseConfig(name, rest, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	switch command {
	case "serve":
		return serve(ctx, cfg, stderr)
	case "healthcheck":
		return healthcheck(ctx, cfg.Addr, stdout)
	default:
		return fmt.Errorf("unknown command %q (want healthcheck, or flags only to serve)", command)
	}
}

func serve(ctx context.Context, cfg config, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	logger.Info("starting", "config", cfg)

	v, err := bearer.New(ctx, bearer.Config{
		Authority:          cfg.Authority,
		Audience:           cfg.Audience,
		Algorithms:         cfg.Algorithms,
		Leeway:             cfg.Leeway,
		RefreshInterval:    cfg.JWKSRefreshInterval,
		UnknownKIDInterval: cfg.JWKSUnknownKIDInterval,
		FetchTimeout:       cfg.JWKSTimeout,
		Logger:             logger,
		Realm:              "valuesapi",
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	srv := newHTTPServer(NewServer(logger, v, cfg.Scope), logger)
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
	// ctx is already done; the shutdown deadline must come from a context that is not.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	// srv.Shutdown alone drops a request whose header is still arriving when it starts (net/http hangs up on
	// any request read after shutdown began). So first stop accepting, turn keep-alives off, and let every open
	// connection finish its request and close; only then Shutdown.
	srv.SetKeepAlivesEnabled(false)
	_ = ln.Close()
	<-served // Serve returns once the listener is closed; every accepted connection is already counted
	// SetKeepAlivesEnabled(false) closes the connections idle at that moment.
	if err := conns.drain(sctx, func() { srv.SetKeepAlivesEnabled(false) }); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// newHTTPServer sets the limits every connection lives under. MaxHeaderBytes bounds the Authorization header
// before any of our code sees it: net/http answers 431 to a larger header block (it allows 4 KiB of slack).
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

// healthcheck asks the local server's /readyz, for container health probes that have no curl.
func healthcheck(ctx context.Context, addr string, stdout io.Writer) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("healthcheck: bad address %q: %w", addr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort("127.0.0.1", port) + "/readyz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d", url, resp.StatusCode)
	}
	fmt.Fprintln(stdout, "ready")
	return nil
}

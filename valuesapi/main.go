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
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/tokenbearer/httpserver"
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

	v, err := bearer.New(ctx, cfg.bearerConfig(logger))
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	srv := httpserver.New(NewServer(logger, v, cfg.Scope), logger)
	return httpserver.Serve(ctx, srv, ln, cfg.ShutdownTimeout, logger)
}

// healthcheck asks the local server's /readyz, for container health probes that have no curl.
func healthcheck(ctx context.Context, addr string, stdout io.Writer) error {
	if err := httpserver.Probe(ctx, addr); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ready")
	return nil
}

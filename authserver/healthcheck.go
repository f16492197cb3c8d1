package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tokenbearer/httpserver"
)

// healthcheck asks the local server's /readyz, on the port of the same
// --addr / AUTHSERVER_ADDR used to serve, for container health checks.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := parseConfig("authserver healthcheck", args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading configuration: %w", err)
	}
	return httpserver.Probe(ctx, cfg.Addr)
}

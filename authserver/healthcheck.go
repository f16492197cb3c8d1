package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tokenbearer/httpserver"
	"github.com/tokenbearer/httpserver/envflag"
)

// healthcheck asks the local server's /readyz, on the port of the same
// --addr / AUTHSERVER_ADDR used to serve, for container health checks. It
// reads that setting alone: a container whose other settings are wrong
// already fails to serve, and its probe should not fail for another reason.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	var addr string
	fs := envflag.New("authserver healthcheck [flags]",
		"Asks the server listening on --addr for GET /readyz (on 127.0.0.1 when --addr names no host) and\n"+
			"succeeds when it answers 200 within 2 s, over HTTPS when --tls-cert is set. For container health checks;\n"+
			"reads no other setting.", stderr)
	addrFlag(fs, &addr, "`address` the server listens on, as given to serve")
	var tlsCert string
	tlsCertFlag(fs, &tlsCert)
	if err := fs.Parse(args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("healthcheck: %w", err)
	}
	if tlsCert != "" {
		return httpserver.ProbeTLS(ctx, addr)
	}
	return httpserver.Probe(ctx, addr)
}

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
	command, rest := "serve", []string(nil)
	if len(args) > 1 {
		rest = args[1:]
		if !strings.HasPrefix(rest[0], "-") {
			command, rest = rest[0], rest[1:]
		}
	}
	// The help names the program, not args[0]: in the image the binary is /service, and under `go run` it sits deep
	// in a build cache.
	const name = "valuesapi"
	// Each command parses only its own flags, so its --help lists just those.
	switch command {
	case "serve":
		cfg, err := parseConfig(name, rest, getenv, stderr)
		if err != nil {
			return unlessHelp(err)
		}
		return serve(ctx, cfg, stderr)
	case "healthcheck":
		addr, tlsCert, err := parseHealthcheck(name, rest, getenv, stderr)
		if err != nil {
			return unlessHelp(err)
		}
		return healthcheck(ctx, addr, tlsCert != "", stdout)
	case "help":
		// "help" alone is the top-level help, "help healthcheck" that command's, as in authserver.
		target := []string{name}
		if len(rest) > 0 && rest[0] != "help" {
			target = append(target, rest[0])
		}
		return run(ctx, append(target, "--help"), getenv, stdout, stderr)
	default:
		return fmt.Errorf("unknown command %q (want serve, healthcheck, help, or flags to serve; see --help)", command)
	}
}

// unlessHelp is a parse error, or nil when the user asked for the help and got it.
func unlessHelp(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func serve(ctx context.Context, cfg config, stderr io.Writer) error {
	// Every line names the service, so the two programs' logs can share one stream (docker compose, a collector).
	logger := slog.New(slog.NewTextHandler(stderr, nil)).With("service", "valuesapi")
	logger.Info("starting", "config", cfg)

	// The certificate is read before anything starts, so a wrong path stops the service at once.
	var certs *httpserver.CertFiles
	if cfg.TLSCert != "" {
		var err error
		if certs, err = httpserver.LoadCertFiles(cfg.TLSCert, cfg.TLSKey, logger); err != nil {
			return err
		}
	}
	bc := cfg.bearerConfig(logger)
	if cfg.AuthorityCA != "" {
		client, err := authorityClient(cfg.AuthorityCA)
		if err != nil {
			return err
		}
		bc.HTTPClient = client
	}
	v, err := bearer.New(ctx, bc)
	if errors.Is(err, bearer.ErrInsecureAuthority) {
		return insecureAuthorityError(cfg.Authority)
	}
	if err != nil {
		return err
	}
	if cfg.AllowInsecureAuthority && strings.HasPrefix(cfg.Authority, "http:") {
		logger.Warn("the authority's signing keys are fetched over plain http (--allow-insecure-authority); "+
			"whoever can answer for it on the network can have their own tokens accepted", "authority", cfg.Authority)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	srv := httpserver.New(NewServer(logger, v, cfg.Scope), logger)
	if certs != nil {
		srv.TLSConfig = serverTLSConfig(certs)
	}
	return httpserver.Serve(ctx, srv, ln, cfg.ShutdownTimeout, logger)
}

// insecureAuthorityError is bearer's refusal of an http authority on the network, in the words of this program's
// settings.
func insecureAuthorityError(authority string) error {
	return fmt.Errorf("--authority %s is plain http to a host that is not loopback, so anyone on the network path "+
		"could serve signing keys and have their own tokens accepted: use an https authority (with --authority-ca when "+
		"its certificate comes from a private CA), or set --allow-insecure-authority (VALUESAPI_ALLOW_INSECURE_AUTHORITY=true) "+
		"on a network you trust", authority)
}

// healthcheck asks the local server's /readyz, for container health probes that have no curl; over HTTPS when
// the server serves it.
func healthcheck(ctx context.Context, addr string, useTLS bool, stdout io.Writer) error {
	probe := httpserver.Probe
	if useTLS {
		probe = httpserver.ProbeTLS
	}
	if err := probe(ctx, addr); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ready")
	return nil
}

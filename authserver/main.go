// Command authserver is an OAuth 2.0 authorization server for the client
// credentials grant, issuing RFC 9068 JWT access tokens.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "authserver: %v\n", err)
		os.Exit(1)
	}
}

// run picks the subcommand from args[1] when it is not a flag; without one
// it serves. Each subcommand has its own flags and help.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd, rest := "serve", []string(nil)
	if len(args) > 1 {
		rest = args[1:]
		if !strings.HasPrefix(rest[0], "-") {
			cmd, rest = rest[0], rest[1:]
		}
	}
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, stderr)
	case "hash-secret":
		return hashSecret(rest, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, rest, getenv, stderr)
	case "dev-cert":
		return devCert(rest, getenv, stdout, stderr)
	case "keys":
		return keysCmd(ctx, rest, getenv, stdout, stderr)
	case "help":
		// "help" alone is the top-level help, "help healthcheck" that
		// command's, as "healthcheck --help" prints it.
		target := []string{"authserver"}
		if len(rest) > 0 && rest[0] != "help" {
			target = append(target, rest[0])
		}
		return run(ctx, append(target, "--help"), getenv, stdout, stderr)
	default:
		return fmt.Errorf("unknown command %q (want serve, hash-secret, healthcheck, dev-cert, keys, help, or flags to serve; see --help)", cmd)
	}
}

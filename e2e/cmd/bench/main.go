// Command bench starts authserver and valuesapi from bin/ on loopback ports, measures what a token and a
// validated request cost them, and checks the numbers against the project's targets. `make bench` runs it; it is
// a manual check, never part of `make test` or CI. It exits non-zero when a target is missed or any valid request
// got a non-2xx answer.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		// A missed target is already in the report, whose last line must stay the machine-readable one.
		if !errors.Is(err, errTargetsMissed) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		stop()
		os.Exit(1)
	}
}

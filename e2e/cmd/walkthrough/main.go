// Command walkthrough replays the article's Postman session against running services and narrates each step.
// It exits non-zero when any step does not behave as the article says.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "walkthrough:", err)
		stop()
		os.Exit(1)
	}
}

package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

func TestFlagsAndEnvironment(t *testing.T) {
	cfg, err := parseFlags([]string{"bench", "--workers", "3"}, func(k string) string {
		return map[string]string{"BENCH_OPEN_DURATION": "2s", "BENCH_WORKERS": "9"}[k]
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The flag wins over its variable; a variable fills a flag not given.
	if cfg.workers != 3 || cfg.openDuration != 2*time.Second || cfg.openFraction != 0.5 || cfg.idleConns != 1000 || cfg.bin != "bin" {
		t.Errorf("got %+v", cfg)
	}
	for _, bad := range [][]string{
		{"--workers", "0"}, {"--open-duration", "0s"}, {"--closed-duration", "-1s"}, {"--open-fraction", "0"},
		{"--open-fraction", "1.5"}, {"--idle-conns", "0"}, {"--values-tokens", "0"}, {"--timeout", "0s"},
		{"--token-requests", "0"}, {"stray"},
	} {
		if _, err := parseFlags(append([]string{"bench"}, bad...), noEnv, io.Discard); err == nil {
			t.Errorf("%q: got no error", bad)
		}
	}
}

func TestHelpNamesEveryVariable(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"bench", "--help"}, noEnv, io.Discard, &out); err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"Usage: bench", "BENCH_OPEN_DURATION", "BENCH_IDLE_CONNS", "BENCH_BIN"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunWithoutBinariesSaysToBuild(t *testing.T) {
	err := run(context.Background(), []string{"bench", "--bin", t.TempDir()}, noEnv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "make build") {
		t.Errorf("got %v, want it to say make build", err)
	}
}

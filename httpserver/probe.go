package httpserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Probe asks the local server listening on addr (the service's own --addr) for GET /readyz and returns nil on a
// 200 within 2 s. It is the `healthcheck` subcommand of both binaries, for container health checks.
func Probe(ctx context.Context, addr string) error { return probe(ctx, addr, false) }

// ProbeTLS is Probe over HTTPS, for a service that serves with --tls-cert.
func ProbeTLS(ctx context.Context, addr string) error { return probe(ctx, addr, true) }

func probe(ctx context.Context, addr string, useTLS bool) error {
	target, err := readyzURL(addr, useTLS)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	client := http.DefaultClient
	if useTLS {
		// The probe asks its own process, on this machine, whether it is ready, and sends nothing secret; the
		// certificate need not name 127.0.0.1 nor chain to a CA the container knows.
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", target, resp.Status)
	}
	return nil
}

// readyzURL points at 127.0.0.1 when addr listens on all interfaces, and at addr's own host when it names one.
func readyzURL(addr string, useTLS bool) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("healthcheck: addr: %w", err)
	}
	if port == "" || port == "0" {
		return "", fmt.Errorf("healthcheck: addr %q has no fixed port", addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/readyz", nil
}

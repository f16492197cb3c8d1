package walkthrough

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// WaitReady polls {base}/readyz of every base URL until each answers 200 or ctx ends. On a timeout the error
// carries the last answer or failure, since "not ready" and "certificate signed by unknown authority" call for
// different fixes.
func WaitReady(ctx context.Context, client *http.Client, baseURLs ...string) error {
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Second}
	}
	for _, base := range baseURLs {
		u := strings.TrimSuffix(base, "/") + "/readyz"
		for {
			last := ready(ctx, client, u)
			if last == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w (last: %v)", u, ctx.Err(), last)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// ready is nil when u answers 200, and otherwise what it answered or why it could not be asked.
func ready(ctx context.Context, client *http.Client, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", u, resp.Status)
	}
	return nil
}

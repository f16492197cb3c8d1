package walkthrough

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// WaitReady polls {base}/readyz of every base URL until each answers 200 or ctx ends.
func WaitReady(ctx context.Context, client *http.Client, baseURLs ...string) error {
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Second}
	}
	for _, base := range baseURLs {
		u := strings.TrimSuffix(base, "/") + "/readyz"
		for {
			if ready(ctx, client, u) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", u, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func ready(ctx context.Context, client *http.Client, u string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

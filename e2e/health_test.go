package e2e

import (
	"net/http"
	"testing"
	"time"
)

// waitHealthy polls /healthz, which answers as soon as the process serves, ready or not.
func waitHealthy(t *testing.T, s *service) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if code := httpStatusOrZero(s.url + "/healthz"); code == 200 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s /healthz never answered 200\nlogs:\n%s", s.name, s.logs.String())
}

func httpStatus(t *testing.T, u string) int {
	t.Helper()
	code := httpStatusOrZero(u)
	if code == 0 {
		t.Fatalf("GET %s failed", u)
	}
	return code
}

func httpStatusOrZero(u string) int {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

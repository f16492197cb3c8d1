package e2e

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestGracefulShutdown: SIGTERM while a request is half sent; the request still gets its full answer and the
// process exits 0.
func TestGracefulShutdown(t *testing.T) {
	sys := startSystem(t)
	token := fetchToken(t, sys.auth.url)

	t.Run("valuesapi", func(t *testing.T) {
		first := "GET /api/values HTTP/1.1\r\nHost: valuesapi\r\n"
		rest := "Authorization: Bearer " + token + "\r\nConnection: close\r\n\r\n"
		resp := sendAcrossSignal(t, sys.api, first, rest)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("got %d for a request in flight at SIGTERM, want 200", resp.StatusCode)
		}
	})
	t.Run("authserver", func(t *testing.T) {
		body := url.Values{"grant_type": {"client_credentials"}, "client_id": {"ApiClient"}, "client_secret": {"secret"}}.Encode()
		half := len(body) / 2
		first := "POST /connect/token HTTP/1.1\r\nHost: authserver\r\nConnection: close\r\n" +
			"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body[:half]
		resp := sendAcrossSignal(t, sys.auth, first, body[half:])
		if resp.StatusCode != http.StatusOK {
			t.Errorf("got %d for a token request in flight at SIGTERM, want 200", resp.StatusCode)
		}
	})
}

// sendAcrossSignal writes the first part of a request, sends SIGTERM to the service, writes the rest, and
// returns the answer; then it requires the process to exit 0.
func sendAcrossSignal(t *testing.T, s *service, first, rest string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := conn.Write([]byte(first)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // let the server read the first part
	exited := make(chan error, 1)
	go func() { exited <- s.terminate(15 * time.Second) }()
	time.Sleep(300 * time.Millisecond) // let it begin shutting down
	if _, err := conn.Write([]byte(rest)); err != nil {
		t.Fatalf("writing the rest after SIGTERM: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer of a request in flight at SIGTERM: %v", err)
	}
	resp.Body.Close()
	if err := <-exited; err != nil {
		t.Error(err)
	}
	return resp
}

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
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"ApiClient"}, "client_secret": {"secret"}}.Encode()
	tokenRequest := "POST /connect/token HTTP/1.1\r\nHost: authserver\r\nConnection: close\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(form)) + "\r\n\r\n" + form
	cut := strings.Index(tokenRequest, "Content-Type")

	tests := []struct {
		name        string
		target      func(*system) *service
		first, rest func(token string) string
	}{
		{
			name:   "valuesapi, header half sent",
			target: func(sys *system) *service { return sys.api },
			first:  func(string) string { return "GET /api/values HTTP/1.1\r\nHost: valuesapi\r\n" },
			rest:   func(token string) string { return "Authorization: Bearer " + token + "\r\nConnection: close\r\n\r\n" },
		},
		{
			name:   "authserver, header half sent",
			target: func(sys *system) *service { return sys.auth },
			first:  func(string) string { return tokenRequest[:cut] },
			rest:   func(string) string { return tokenRequest[cut:] },
		},
		{
			name:   "authserver, body half sent",
			target: func(sys *system) *service { return sys.auth },
			first:  func(string) string { return tokenRequest[:len(tokenRequest)-len(form)/2] },
			rest:   func(string) string { return tokenRequest[len(tokenRequest)-len(form)/2:] },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := startSystem(t)
			token := fetchToken(t, sys.auth.url)
			resp := sendAcrossSignal(t, tt.target(sys), tt.first(token), tt.rest(token))
			if resp.StatusCode != http.StatusOK {
				t.Errorf("got %d for a request in flight at SIGTERM, want 200", resp.StatusCode)
			}
		})
	}
}

// sendAcrossSignal writes the first part of a request, sends SIGTERM to the service, writes the rest, and
// returns the answer; then it requires the process to exit 0.
func sendAcrossSignal(t *testing.T, s *service, first, rest string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", s.addr)
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

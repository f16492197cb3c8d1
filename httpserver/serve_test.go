package httpserver

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startServe runs Serve on a loopback port with a handler answering "ok", and returns the address and Serve's
// result.
func startServe(t *testing.T, ctx context.Context, shutdownTimeout time.Duration) (string, <-chan error) {
	t.Helper()
	return startServeHandler(t, ctx, shutdownTimeout, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
}

// startServeHandler is startServe with the handler h.
func startServeHandler(t *testing.T, ctx context.Context, shutdownTimeout time.Duration, h http.Handler) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(h, slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, srv, ln, shutdownTimeout, slog.New(slog.DiscardHandler)) }()
	return ln.Addr().String(), done
}

func result(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

// TestServeAnswersRequestStillArriving: a request whose header is half sent when ctx ends still gets its answer,
// and Serve returns nil.
func TestServeAnswersRequestStillArriving(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := startServe(t, ctx, 10*time.Second)

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /x HTTP/1.1\r\nHost: test\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the server accept and count the connection
	cancel()
	time.Sleep(50 * time.Millisecond) // shutdown has begun
	if _, err := io.WriteString(conn, "\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("request in flight at shutdown got no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Errorf("got %d %q, want 200 ok", resp.StatusCode, body)
	}
	if err := result(t, done); err != nil {
		t.Errorf("Serve returned %v, want nil", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}

// TestServeGivesUpAfterShutdownTimeout: a connection that never finishes its request keeps Serve no longer than
// the shutdown timeout, and Serve says so.
func TestServeGivesUpAfterShutdownTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := startServe(t, ctx, 200*time.Millisecond)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /x HTTP/1.1\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	err = result(t, done)
	if err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("Serve returned %v, want a shutting-down error", err)
	}
}

// TestServeClosesIdleKeepAliveConnections: an idle keep-alive connection does not hold shutdown up.
func TestServeClosesIdleKeepAliveConnections(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := startServe(t, ctx, 10*time.Second)
	client := &http.Client{Transport: &http.Transport{}}
	resp, err := client.Get("http://" + addr + "/x")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close() // the connection goes back to the client's pool, idle and open
	cancel()
	if err := result(t, done); err != nil {
		t.Errorf("Serve returned %v, want nil", err)
	}
}

// TestServeDoesNotWaitForHijackedConnections: a hijacked connection belongs to its handler (net/http neither
// reports it closed nor closes it on Shutdown), so the drain stops counting it at the hijack; otherwise one
// WebSocket-style connection, held open or already closed, would keep every shutdown waiting for its timeout.
func TestServeDoesNotWaitForHijackedConnections(t *testing.T) {
	tests := []struct {
		name     string
		holdOpen bool
	}{
		{"held open by the handler", true},
		{"closed by the handler", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			release := make(chan struct{})
			defer close(release)
			addr, done := startServeHandler(t, ctx, 5*time.Second, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, buf, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Errorf("hijack: %v", err)
					return
				}
				_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				_ = buf.Flush()
				if tt.holdOpen {
					<-release
				}
				conn.Close()
			}))
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, "GET /x HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer from the hijacking handler: %v", err)
			}
			resp.Body.Close()

			start := time.Now()
			cancel()
			if err := result(t, done); err != nil {
				t.Errorf("got Serve error %v, want nil", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("got shutdown in %v, want well under the 5 s timeout", d)
			}
		})
	}
}

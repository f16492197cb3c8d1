package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenbearer/valuesapi/bearer/bearertest"
)

// syncBuffer is a bytes.Buffer that the server goroutines and the test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listeningRE = regexp.MustCompile(`msg=listening .*\baddr=(\S+)`)

// TestRun starts the real program on a free port against a fake authority, waits for /readyz, calls the API and
// the healthcheck subcommand, and stops it the way SIGTERM does.
func TestRun(t *testing.T) {
	a := bearertest.NewAuthority(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	env := map[string]string{"VALUESAPI_AUTHORITY": a.URL}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"valuesapi", "--addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, io.Discard, &stderr)
	}()

	addr := listeningAddr(t, &stderr)
	base := "http://" + addr
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never 200 (last err %v); logs:\n%s", err, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	req, _ := http.NewRequest(http.MethodGet, base+"/api/values", nil)
	req.Header.Set("Authorization", "Bearer "+a.Token(t, testAudience, testScope))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `["value1","value2"]` {
		t.Errorf("GET /api/values: got %d %s, want 200 [\"value1\",\"value2\"]", resp.StatusCode, body)
	}

	if err := run(ctx, []string{"valuesapi", "healthcheck", "--addr", addr}, func(string) string { return "" }, io.Discard, io.Discard); err != nil {
		t.Errorf("healthcheck against a ready server: %v", err)
	}

	for _, want := range []string{"msg=starting", "config.authority=" + a.URL, `msg="signing keys loaded"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, stderr.String())
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: got %v, want nil", err)
		}
		checkEveryLineNamesService(t, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still answering after shutdown")
	}
}

func TestHealthcheckFailsWhenNotServing(t *testing.T) {
	// Port 1 on loopback is not ours; the connection is refused at once.
	err := run(context.Background(), []string{"valuesapi", "healthcheck"}, func(k string) string {
		if k == "VALUESAPI_ADDR" {
			return ":1"
		}
		return ""
	}, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("healthcheck with nothing listening: got nil, want error")
	}
}

// checkEveryLineNamesService: the logs of both services often share one stream, so each line says whose it is.
func checkEveryLineNamesService(t *testing.T, logs string) {
	t.Helper()
	for line := range strings.Lines(logs) {
		if !strings.Contains(line, " service=valuesapi") {
			t.Errorf("got log line %q, want it to carry service=valuesapi", line)
		}
	}
}

// TestHealthcheckIgnoresOtherVariables: the container probe shares the server's environment, and a bad value in a
// variable only serve reads must not mark a healthy server unhealthy.
func TestHealthcheckIgnoresOtherVariables(t *testing.T) {
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
		}
	}))
	defer ready.Close()
	env := map[string]string{
		"VALUESAPI_ADDR":             ready.Listener.Addr().String(),
		"VALUESAPI_LEEWAY":           "soon",
		"VALUESAPI_SCOPE":            "a b",
		"VALUESAPI_SHUTDOWN_TIMEOUT": "-1s",
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"valuesapi", "healthcheck"}, func(k string) string { return env[k] }, &stdout, io.Discard); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	if got, want := stdout.String(), "ready\n"; got != want {
		t.Errorf("got stdout %q, want %q", got, want)
	}
}

// TestShutdownAnswersRequestStillArriving: a request whose header is half sent when the stop signal comes still
// gets its answer, and run returns nil.
func TestShutdownAnswersRequestStillArriving(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"valuesapi", "--addr", "127.0.0.1:0", "--authority", "http://127.0.0.1:1"},
			func(string) string { return "" }, io.Discard, &stderr)
	}()
	addr := listeningAddr(t, &stderr)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: valuesapi\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the server read the first half
	cancel()
	for !strings.Contains(stderr.String(), `msg="shutting down"`) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // net/http would now drop the request
	if _, err := io.WriteString(conn, "Accept: */*\r\n\r\n"); err != nil {
		t.Fatalf("writing the rest after the stop signal: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("got %d, want 200", resp.StatusCode)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: got %v, want nil", err)
		}
		// With no authority to reach, these logs include the validator's own complaints.
		checkEveryLineNamesService(t, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return")
	}
}

// listeningAddr waits for run's "listening" log line and returns the address it names.
func listeningAddr(t *testing.T, logs *syncBuffer) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listening line in logs:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

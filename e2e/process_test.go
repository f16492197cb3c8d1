package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tokenbearer/e2e/walkthrough"
)

// service is one of the built binaries running as a child process on a loopback port.
type service struct {
	t    *testing.T
	name string
	addr string // 127.0.0.1:port, given with --addr
	url  string // http://addr
	cmd  *exec.Cmd
	logs *syncBuffer

	exited  chan struct{} // closed when the process has exited
	exitErr error         // what Wait returned; read only after exited is closed
}

// startService runs the binary with its real flags, serving on addr, and does not wait for readiness.
func startService(t *testing.T, name, addr string, args ...string) *service {
	t.Helper()
	s := &service{t: t, name: name, addr: addr, url: "http://" + addr, logs: &syncBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(filepath.Join(binDir, name), args...)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { s.exitErr = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		if s.running() {
			s.kill()
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, s.logs.String())
		}
	})
	return s
}

// startAuthserver runs authserver on addr with the key file; the issuer is its loopback URL. Extra flags come
// after the defaults and win.
func startAuthserver(t *testing.T, addr, keyFile string, extra ...string) *service {
	t.Helper()
	args := append([]string{"--addr", addr, "--issuer", "http://" + addr, "--key-file", keyFile}, extra...)
	return startService(t, "authserver", addr, args...)
}

// startValuesapi runs valuesapi on addr trusting authority; extra flags come after the defaults and win.
func startValuesapi(t *testing.T, addr, authority string, extra ...string) *service {
	t.Helper()
	args := append([]string{"--addr", addr, "--authority", authority, "--jwks-unknown-kid-interval", "1s"}, extra...)
	return startService(t, "valuesapi", addr, args...)
}

// waitReady polls /readyz until it answers 200.
func (s *service) waitReady(timeout time.Duration) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := walkthrough.WaitReady(ctx, nil, s.url); err != nil {
		s.t.Fatalf("%s not ready: %v\nlogs:\n%s", s.name, err, s.logs.String())
	}
}

// stop sends SIGTERM and requires a clean exit (status 0) within the timeout.
func (s *service) stop(timeout time.Duration) {
	s.t.Helper()
	if err := s.terminate(timeout); err != nil {
		s.t.Fatal(err)
	}
}

// terminate sends SIGTERM and waits for the exit; any exit but status 0 within the timeout is an error.
func (s *service) terminate(timeout time.Duration) error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("signalling %s: %w", s.name, err)
	}
	select {
	case <-s.exited:
		if s.exitErr != nil {
			return fmt.Errorf("%s exited with %v after SIGTERM, want status 0", s.name, s.exitErr)
		}
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s did not exit within %s of SIGTERM", s.name, timeout)
	}
}

// kill ends the process at once, as a crash would.
func (s *service) kill() {
	s.t.Helper()
	_ = s.cmd.Process.Kill()
	<-s.exited
}

func (s *service) running() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago, and never one it returned before:
// the kernel may hand a just-closed port out again, and two services of one test on one port fail at random.
func freeAddr(t *testing.T) string {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		addr := l.Addr().String()
		l.Close()
		if _, seen := handedOut.LoadOrStore(addr, true); !seen {
			return addr
		}
	}
}

// handedOut holds every address freeAddr returned in this test binary.
var handedOut sync.Map

// system is both services started and ready.
type system struct {
	auth, api *service
	keyFile   string
}

// startSystem starts both services; valuesapiFlags are added to valuesapi's command line.
func startSystem(t *testing.T, valuesapiFlags ...string) *system {
	t.Helper()
	sys := &system{keyFile: filepath.Join(t.TempDir(), "tempkey.jwk")}
	sys.auth = startAuthserver(t, freeAddr(t), sys.keyFile)
	sys.api = startValuesapi(t, freeAddr(t), sys.auth.url, valuesapiFlags...)
	sys.auth.waitReady(30 * time.Second)
	sys.api.waitReady(30 * time.Second)
	return sys
}

// getValues calls GET /api/values with the token and returns the status and WWW-Authenticate header.
func getValues(t *testing.T, apiURL, token string) (int, string) {
	t.Helper()
	status, challenge, err := requestValues(&http.Client{Timeout: 10 * time.Second}, apiURL, token)
	if err != nil {
		t.Fatalf("GET /api/values: %v", err)
	}
	return status, challenge
}

// requestValues is getValues without a *testing.T, for goroutines that must not call Fatal.
func requestValues(client *http.Client, apiURL, token string) (status int, challenge string, err error) {
	req, err := http.NewRequest(http.MethodGet, apiURL+"/api/values", nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), nil
}

// syncBuffer collects a child's output while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

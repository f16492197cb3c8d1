package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// requireRedisEnv, set to 1, makes a missing redis-server fail the tests instead of skipping them, as in
// authserver/internal/redistest (CI sets it).
const requireRedisEnv = "AUTHSERVER_REQUIRE_REDIS"

// startRedis runs a throwaway redis-server without persistence on a free loopback port, waits until it answers
// PING, and returns its address; it is killed when the test ends. Without redis-server on PATH the test is
// skipped, or fails when AUTHSERVER_REQUIRE_REDIS=1.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(requireRedisEnv) == "1" {
			t.Fatalf("redis-server not found and %s=1: %v", requireRedisEnv, err)
		}
		t.Skip("redis-server not found on PATH: skipping the Redis tests (apt-get install redis-server)")
	}
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	logs := &syncBuffer{}
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("redis-server logs:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := pingRedis(addr)
		if err == nil {
			return addr
		}
		select {
		case <-exited:
			t.Fatalf("redis-server on %s exited: %v\n%s", addr, cmd.ProcessState, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer PING within 10s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pingRedis sends an inline PING and wants +PONG: enough RESP to wait on without a client library.
func pingRedis(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(line); got != "+PONG" {
		return fmt.Errorf("PING: got %q, want +PONG", got)
	}
	return nil
}

package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tokenbearer/e2e/walkthrough"
)

// service is one of the built binaries running as a child process on a loopback port.
type service struct {
	name    string
	url     string
	cmd     *exec.Cmd
	logPath string

	exited  chan struct{} // closed when the process has exited
	exitErr error         // what Wait returned; read only after exited is closed
}

// startService runs bin/name with args, its output going to a file in logDir: a file rather than a pipe, so that
// no goroutine of the load generator copies the logs of every request while it is being measured.
func startService(binDir, logDir, name, addr string, args ...string) (*service, error) {
	path := filepath.Join(binDir, name)
	s := &service{name: name, url: "http://" + addr, logPath: filepath.Join(logDir, name+".log"), exited: make(chan struct{})}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own copy of the descriptor
	s.cmd = exec.Command(path, args...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// If the harness itself is killed, the services must not outlive it on their random ports.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() { s.exitErr = s.cmd.Wait(); close(s.exited) }()
	return s, nil
}

func (s *service) pid() int { return s.cmd.Process.Pid }

// waitReady polls /readyz until it answers 200, and gives up early when the process has exited.
func (s *service) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	go func() {
		select {
		case <-s.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := walkthrough.WaitReady(ctx, nil, s.url); err != nil {
		return fmt.Errorf("%s not ready: %w\n%s", s.name, err, s.logTail(20))
	}
	return nil
}

// stop sends SIGTERM and waits for a clean exit; past the timeout the process is killed and that is an error.
func (s *service) stop(timeout time.Duration) error {
	select {
	case <-s.exited:
		return fmt.Errorf("%s had already exited: %v\n%s", s.name, s.exitErr, s.logTail(20))
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("signalling %s: %w", s.name, err)
	}
	select {
	case <-s.exited:
		if s.exitErr != nil {
			return fmt.Errorf("%s exited with %v after SIGTERM, want status 0\n%s", s.name, s.exitErr, s.logTail(20))
		}
		return nil
	case <-time.After(timeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("%s did not exit within %s of SIGTERM and was killed", s.name, timeout)
	}
}

// logTail returns the last n lines the service logged, for error messages.
func (s *service) logTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return s.name + " log:\n  " + strings.Join(lines, "\n  ")
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoadThroughAuthserverRestart sends valid traffic to valuesapi at a steady rate (bounded in count and
// time, loopback only) while authserver restarts once. Every request must succeed, and valuesapi's resident
// memory must not grow between the first third of the run and its end. E2E_LOAD_DURATION shortens or
// lengthens the run (default 60s); `make load` runs it verbosely to show the memory report.
func TestLoadThroughAuthserverRestart(t *testing.T) {
	duration := 60 * time.Second
	if v := os.Getenv("E2E_LOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("E2E_LOAD_DURATION: %v", err)
		}
		duration = d
	}
	const rate = 100 // requests per second
	sys := startSystem(t)
	token := fetchToken(t, sys.auth.url)
	wantStatus(t, sys.api.url, token, 200, "warm-up")

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var sent, failed atomic.Int64
	var firstFailure atomic.Value
	work := make(chan struct{}, rate)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				sent.Add(1)
				if err := callValues(client, sys.api.url, token); err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}

	// Each tick sends what the steady rate owes by now, so a late tick on a busy machine does not lower the rate.
	start := time.Now()
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	var rssStart, rssEnd int64
	restarted := make(chan struct{})
	restarting := false
	var dispatched int64
	for now := range ticker.C {
		elapsed := now.Sub(start)
		if elapsed >= duration {
			break
		}
		if rssStart == 0 && elapsed >= duration/3 {
			rssStart = rssKiB(t, sys.api)
		}
		if !restarting && elapsed >= duration/2 {
			restarting = true
			go func() { defer close(restarted); restartAuthserver(t, sys) }()
		}
		for due := int64(elapsed.Seconds() * rate); dispatched < due; dispatched++ {
			work <- struct{}{}
		}
	}
	close(work)
	wg.Wait()
	rssEnd = rssKiB(t, sys.api)
	<-restarted
	sys.auth.waitReady(30 * time.Second)
	wantStatus(t, sys.api.url, fetchToken(t, sys.auth.url), 200, "token from the restarted authserver")

	t.Logf("%d requests in %s at %d/s, %d failed; valuesapi RSS %d KiB at one third, %d KiB at the end",
		sent.Load(), duration, rate, failed.Load(), rssStart, rssEnd)
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed; first: %v", failed.Load(), sent.Load(), firstFailure.Load())
	}
	if want := int64(duration.Seconds() * rate * 9 / 10); sent.Load() < want {
		t.Errorf("sent %d requests, want at least %d: the load did not run", sent.Load(), want)
	}
	// Noise in a Go process's RSS is a few MiB; a leak per request would show as tens of MiB here.
	if grow := rssEnd - rssStart; grow > 16*1024 {
		t.Errorf("valuesapi RSS grew by %d KiB over the run (%d -> %d), want under 16 MiB", grow, rssStart, rssEnd)
	}
}

func callValues(client *http.Client, apiURL, token string) error {
	status, challenge, err := requestValues(client, apiURL, token)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("status %d (%s)", status, challenge)
	}
	return err
}

// restartAuthserver stops authserver with SIGTERM and starts it again on the same address and key file.
// It runs beside the load loop, so it reports problems with Errorf, never Fatal.
func restartAuthserver(t *testing.T, sys *system) {
	if err := sys.auth.terminate(15 * time.Second); err != nil {
		t.Errorf("restarting authserver: %v", err)
		return
	}
	sys.auth = startAuthserver(t, sys.auth.addr, sys.keyFile)
}

// rssKiB reads the resident set size of the service's process from /proc.
func rssKiB(t *testing.T, s *service) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("reading RSS: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("parsing VmRSS %q: %v", v, err)
			}
			return kib
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}

// TestLoadConcurrentTokenRequests: 64 workers of one client, from one address, ask for tokens as fast as they can
// (bounded in count: 10 each, loopback only). Correct secrets spend no failure budget, so every answer is 200: the
// throttle must never refuse a busy client, such as the pods of one service starting together. `make load` runs
// it verbosely.
func TestLoadConcurrentTokenRequests(t *testing.T) {
	const workers, each = 64, 10
	auth := startAuthserver(t, freeAddr(t), filepath.Join(t.TempDir(), "key.jwk"))
	auth.waitReady(30 * time.Second)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {"ApiClient"}, "client_secret": {"secret"}}.Encode()
	var answers sync.Map // status -> *atomic.Int64
	count := func(status int) {
		n, _ := answers.LoadOrStore(status, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
	var start, done sync.WaitGroup
	start.Add(workers)
	for range workers {
		done.Go(func() {
			start.Done()
			start.Wait() // all 64 begin together
			for range each {
				resp, err := client.Post(auth.url+"/connect/token", "application/x-www-form-urlencoded", strings.NewReader(body))
				if err != nil {
					count(0)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				count(resp.StatusCode)
			}
		})
	}
	done.Wait()
	got := map[int]int64{}
	answers.Range(func(k, v any) bool { got[k.(int)] = v.(*atomic.Int64).Load(); return true })
	t.Logf("%d token requests by %d concurrent workers of one client: answers %v", workers*each, workers, got)
	if got[http.StatusOK] != workers*each {
		t.Errorf("got answers %v (0 = transport error), want all %d 200", got, workers*each)
	}
}

package e2e

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// deployment is three authserver replicas behind a round-robin proxy, and one valuesapi trusting the proxy.
type deployment struct {
	proxy *roundRobinProxy
	api   *service
	args  func(addr string) []string // a replica's command line

	mu       sync.Mutex
	replicas []*service // the current process of each replica
	down     []bool     // replicas deliberately stopped: the JWKS watch skips them
	all      []*service // every replica process ever started, for their logs

	seenMu    sync.Mutex
	firstSeen map[string]time.Time // when the JWKS watch first saw each kid at any replica
}

func startDeployment(t *testing.T, alg string, storeFlags []string) *deployment {
	t.Helper()
	d := &deployment{proxy: startRoundRobinProxy(t), firstSeen: map[string]time.Time{}}
	d.args = func(addr string) []string {
		args := []string{"--addr", addr, "--issuer", d.proxy.url, "--signing-alg", alg}
		return append(append(args, storeFlags...), scheduleFlags...)
	}
	var addrs []string
	for range 3 {
		addr := freeAddr(t)
		addrs = append(addrs, addr)
		s := startService(t, "authserver", addr, d.args(addr)...)
		d.replicas, d.all, d.down = append(d.replicas, s), append(d.all, s), append(d.down, false)
	}
	d.proxy.setBackends(addrs)
	for _, s := range d.replicas {
		s.waitReady(30 * time.Second)
	}
	d.api = startValuesapi(t, freeAddr(t), d.proxy.url,
		"--jwks-refresh-interval", jwksRefresh.String(), "--jwks-unknown-kid-interval", "1h")
	d.api.waitReady(30 * time.Second)
	return d
}

// restart kills replica i as a crash would and starts it again with the same flags, while the load goes on.
func (d *deployment) restart(t *testing.T, i int) {
	t.Helper()
	d.mu.Lock()
	d.down[i] = true
	old := d.replicas[i]
	d.mu.Unlock()
	old.kill()
	time.Sleep(500 * time.Millisecond) // long enough for the proxy to meet the dead address
	s := startService(t, "authserver", old.addr, d.args(old.addr)...)
	s.waitReady(30 * time.Second)
	d.mu.Lock()
	d.replicas[i], d.down[i] = s, false
	d.all = append(d.all, s)
	d.mu.Unlock()
}

// up returns the replicas that should be serving.
func (d *deployment) up() []*service {
	d.mu.Lock()
	defer d.mu.Unlock()
	var up []*service
	for i, s := range d.replicas {
		if !d.down[i] {
			up = append(up, s)
		}
	}
	return up
}

// logs are the logs of every replica process, the killed ones too.
func (d *deployment) logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var b strings.Builder
	for _, s := range d.all {
		b.WriteString(s.logs.String())
	}
	return b.String()
}

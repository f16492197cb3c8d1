package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// roundRobinProxy spreads requests over the replicas in turn, and on a connection error tries the next one, as a
// load balancer with health checks would: a killed replica costs no request.
type roundRobinProxy struct {
	url       string
	next      atomic.Uint64
	backends  atomic.Pointer[[]string]
	failovers atomic.Int64
	transport *http.Transport
}

// startRoundRobinProxy listens at once, so that replicas can be given its URL as their issuer; setBackends names
// them once they run.
func startRoundRobinProxy(t *testing.T) *roundRobinProxy {
	t.Helper()
	p := &roundRobinProxy{transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConnsPerHost:   16,
		ResponseHeaderTimeout: 5 * time.Second,
	}}
	p.backends.Store(&[]string{})
	addr := freeAddr(t)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("round-robin proxy: %v", err)
	}
	srv := httptest.NewUnstartedServer(p)
	srv.Listener = l
	srv.Start()
	p.url = "http://" + addr
	t.Cleanup(func() { srv.Close(); p.transport.CloseIdleConnections() })
	return p
}

func (p *roundRobinProxy) setBackends(addrs []string) { p.backends.Store(&addrs) }

func (p *roundRobinProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	backends := *p.backends.Load()
	start := p.next.Add(1)
	var errs []error
	for i := range uint64(len(backends)) {
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.URL.Scheme, out.URL.Host = "http", backends[(start+i)%uint64(len(backends))]
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		resp, err := p.transport.RoundTrip(out)
		if err != nil {
			// Retrying is safe here: a token request asked twice only mints a second token.
			p.failovers.Add(1)
			errs = append(errs, err)
			continue
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return
	}
	http.Error(w, fmt.Sprintf("none of %d replicas answered: %v", len(backends), errors.Join(errs...)), http.StatusBadGateway)
}

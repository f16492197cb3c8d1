package httpserver

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

func TestProbe(t *testing.T) {
	var status atomic.Int64
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	addr := ":" + port

	if err := Probe(context.Background(), addr); err != nil {
		t.Errorf("ready server: %v", err)
	}
	status.Store(http.StatusServiceUnavailable)
	if err := Probe(context.Background(), addr); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("not-ready server: error = %v, want one naming 503", err)
	}
	srv.Close()
	if err := Probe(context.Background(), addr); err == nil {
		t.Error("probe of a stopped server succeeded")
	}
	if err := Probe(context.Background(), "no-port"); err == nil {
		t.Error("probe of an address without a port succeeded")
	}
}

// TestProbeFailsOnEveryAnswerButOK: a container is healthy only on 200 from /readyz. A 401 (an auth
// middleware in front of /readyz) or a 404 (a route gone missing, or another program on the port) means the
// probe never reached the service's own answer, so it must fail like a 5xx.
func TestProbeFailsOnEveryAnswerButOK(t *testing.T) {
	tests := []struct {
		status  int
		wantErr bool
	}{
		{http.StatusOK, false},
		{http.StatusNoContent, true},
		{http.StatusMovedPermanently, true}, // no Location, so the client hands the 301 back
		{http.StatusBadRequest, true},
		{http.StatusUnauthorized, true},
		{http.StatusForbidden, true},
		{http.StatusNotFound, true},
		{http.StatusTooManyRequests, true},
		{http.StatusInternalServerError, true},
		{http.StatusServiceUnavailable, true},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			err := Probe(context.Background(), ":"+port)
			if !tt.wantErr {
				if err != nil {
					t.Errorf("got error %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), strconv.Itoa(tt.status)) {
				t.Errorf("got error %v, want one naming %d", err, tt.status)
			}
		})
	}
}

func TestReadyzURL(t *testing.T) {
	tests := []struct {
		addr, want string
	}{
		{":44364", "http://127.0.0.1:44364/readyz"},
		{"0.0.0.0:8080", "http://127.0.0.1:8080/readyz"},
		{"[::]:8080", "http://127.0.0.1:8080/readyz"},
		{"127.0.0.1:9", "http://127.0.0.1:9/readyz"},
		{"localhost:9", "http://localhost:9/readyz"},
		{"[::1]:9", "http://[::1]:9/readyz"},
		{"127.0.0.1:0", ""},
	}
	for _, tt := range tests {
		got, err := readyzURL(tt.addr, false)
		if tt.want == "" {
			if err == nil {
				t.Errorf("readyzURL(%q) = %q, want error", tt.addr, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("readyzURL(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
		}
	}
}

// TestProbeTLS: with useTLS the probe speaks HTTPS to its own server, whatever names the certificate holds.
func TestProbeTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")
	if err := ProbeTLS(context.Background(), addr); err != nil {
		t.Errorf("Probe over TLS: %v", err)
	}
	if err := Probe(context.Background(), addr); err == nil {
		t.Error("a plain HTTP probe of a TLS server succeeded")
	}
}

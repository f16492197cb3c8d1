package httpserver

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
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
		got, err := readyzURL(tt.addr)
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

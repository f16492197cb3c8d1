package walkthrough

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestInWords(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "already (it has expired)"},
		{30 * time.Second, "in about a minute"},
		{59*time.Minute + 50*time.Second, "in 1 hour"},
		{45 * time.Minute, "in 45 minutes"},
		{time.Hour, "in 1 hour"},
		{2*time.Hour + time.Minute, "in 2 hours and 1 minute"},
	}
	for _, tt := range tests {
		if got := inWords(tt.d); got != tt.want {
			t.Errorf("inWords(%s): got %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestReachable(t *testing.T) {
	tests := []struct {
		name, authority, advertised, want string
		wantErr                           bool
	}{
		{"same origin kept", "http://localhost:44364", "http://localhost:44364/connect/token", "http://localhost:44364/connect/token", false},
		{"compose name rebased on the URL the client uses", "http://127.0.0.1:44364", "http://authserver:44364/connect/token", "http://127.0.0.1:44364/connect/token", false},
		{"relative URL refused", "http://localhost:44364", "/connect/token", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &walker{cfg: Config{Authority: tt.authority}, out: io.Discard}
			got, err := w.reachable(tt.advertised)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestClaimText(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"string", "auth.web.api", "auth.web.api"},
		{"audience list", []any{"a.api", "b.api"}, "a.api, b.api"},
		{"missing", nil, "none"},
		{"number", float64(3600), "3600"},
	}
	for _, tt := range tests {
		if got := claimText(tt.v); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestWaitReadySaysWhatItLastSaw: a timeout names the last answer, so "still starting" and "wrong certificate"
// read differently.
func TestWaitReadySaysWhatItLastSaw(t *testing.T) {
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer notReady.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := WaitReady(ctx, nil, notReady.URL)
	if err == nil || !strings.Contains(err.Error(), "503 Service Unavailable") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a deadline error naming the 503", err)
	}
}

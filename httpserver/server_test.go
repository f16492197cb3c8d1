package httpserver

import (
	"log/slog"
	"net/http"
	"testing"
	"time"
)

func TestNewSetsLimits(t *testing.T) {
	srv := New(http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	got := [...]any{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, srv.MaxHeaderBytes}
	want := [...]any{5 * time.Second, 10 * time.Second, 15 * time.Second, 60 * time.Second, 16 << 10}
	if got != want {
		t.Errorf("ReadHeader, Read, Write, Idle timeouts, MaxHeaderBytes = %v, want %v", got, want)
	}
	if srv.ErrorLog == nil {
		t.Error("server errors are not routed to the logger")
	}
}

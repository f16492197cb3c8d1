package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokenbearer/httpserver"
)

// TestOversizedAuthorizationHeader checks the many-dots (CVE-2025-30204) shape through the production
// http.Server: a header block past MaxHeaderBytes never reaches our code (net/http answers 431), and a large one
// under it is refused by size with 401 before any parsing. Neither is ever a 500.
func TestOversizedAuthorizationHeader(t *testing.T) {
	a, h := newTestServer(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httpserver.New(h, slog.New(slog.DiscardHandler))
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	url := "http://" + ln.Addr().String() + "/api/values"

	tests := []struct {
		name       string
		auth       string
		pad        int // bytes of an extra header, to make the header block large without a large token
		wantStatus int
		wantHeader string
	}{
		{"100000 dots: rejected by net/http", "Bearer " + strings.Repeat(".", 100000), 0, 431, ""},
		{"valid token in a header block over the limit", "Bearer " + a.Token(t, testAudience, testScope), 24 << 10, 431, ""},
		{"12000 dots: under MaxHeaderBytes, over the token cap", "Bearer " + strings.Repeat(".", 12000), 0, 401, invalidToken("token too large")},
		{"8000 dots: under the token cap", "Bearer " + strings.Repeat(".", 8000), 0, 401, invalidToken("malformed token")},
		{"control: valid token", "Bearer " + a.Token(t, testAudience, testScope), 4 << 10, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", tt.auth)
			if tt.pad > 0 {
				req.Header.Set("X-Pad", strings.Repeat("p", tt.pad))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.wantHeader {
				t.Errorf("WWW-Authenticate:\n got %s\nwant %s", got, tt.wantHeader)
			}
		})
	}

	// The handler alone (behind a proxy with a larger header limit, say) refuses the same header by size.
	req := httptest.NewRequest(http.MethodGet, "/api/values", nil)
	req.Header.Set("Authorization", "Bearer "+strings.Repeat(".", 100000))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") != invalidToken("token too large") {
		t.Errorf("handler with 100000 dots: got %d %q, want 401 token too large", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

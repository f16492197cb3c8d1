package bearer

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLimitResponses(t *testing.T) {
	const limit = 1000
	tests := []struct {
		size    int
		wantErr bool
	}{
		{0, false},
		{limit - 1, false},
		{limit, false},
		{limit + 1, true},
		{100 * limit, true},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, strings.Repeat("x", tt.size))
		}))
		c := limitResponses(&http.Client{}, limit)
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if (err != nil) != tt.wantErr || len(b) > limit {
			t.Errorf("body of %d bytes: read %d bytes, err %v; want error %v and at most %d bytes", tt.size, len(b), err, tt.wantErr, limit)
		}
	}

	// The caller's client is copied, not changed.
	orig := &http.Client{}
	if limitResponses(orig, limit); orig.Transport != nil {
		t.Error("limitResponses modified the client it was given")
	}
}

package bearer

import (
	"fmt"
	"io"
	"net/http"
)

// maxResponseBytes caps every response body read from the authority. keyfunc/jwkset decode the JWKS without a
// limit; a real key set is a few KiB, so a larger one is a fault (or an attack) and must not cost us memory.
const maxResponseBytes = 1 << 20

// limitResponses returns a copy of c whose response bodies fail with an error once they exceed limit bytes. The
// JWKS decoder then fails, the refresh counts as failed, and the keys already loaded stay in use.
func limitResponses(c *http.Client, limit int64) *http.Client {
	cc := *c
	base := cc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cc.Transport = limitTransport{base: base, limit: limit}
	return &cc
}

type limitTransport struct {
	base  http.RoundTripper
	limit int64
}

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.limit, limit: t.limit}
	return resp, nil
}

// limitedBody is http.MaxBytesReader for a response: it reads at most limit bytes and then reports an error
// instead of io.EOF, so a decoder cannot mistake a truncated document for a complete one.
type limitedBody struct {
	rc    io.ReadCloser
	left  int64
	limit int64
	err   error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Read one byte past the limit, to tell a body of exactly limit bytes from a longer one.
	if int64(len(p))-1 > b.left {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) <= b.left {
		b.left -= int64(n)
		b.err = err
		return n, err
	}
	n = int(b.left)
	b.left = 0
	b.err = fmt.Errorf("response body larger than %d bytes", b.limit)
	return n, b.err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// jwksFault is what the fault proxy does to JWKS answers.
type jwksFault int32

const (
	passThrough jwksFault = iota
	status500
	htmlPage
	truncatedJSON
	keysNotAList
	emptyKeySet
	stall
	extraUnparsableKey
)

// faultProxy stands between valuesapi and authserver and breaks the JWKS answer on demand. authserver's
// issuer is the proxy's URL, so discovery, tokens and keys all name the proxy, as they would name a load
// balancer in front of the real server.
type faultProxy struct {
	url      string
	fault    atomic.Int32
	jwksHits atomic.Int64
}

func startFaultProxy(t *testing.T, addr, target string) *faultProxy {
	t.Helper()
	up, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{url: "http://" + addr}
	closing := make(chan struct{})
	rp := httputil.NewSingleHostReverseProxy(up)
	rp.ModifyResponse = func(resp *http.Response) error {
		if strings.HasSuffix(resp.Request.URL.Path, "/jwks") && jwksFault(p.fault.Load()) == extraUnparsableKey {
			return addUnparsableKey(resp)
		}
		return nil
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/jwks") {
			rp.ServeHTTP(w, r)
			return
		}
		p.jwksHits.Add(1)
		switch jwksFault(p.fault.Load()) {
		case status500:
			http.Error(w, "internal error", http.StatusInternalServerError)
		case htmlPage:
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html><body>Bad gateway</body></html>"))
		case truncatedJSON:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"keys":[{"kty":"RSA","kid":"`))
		case keysNotAList:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"keys":"x"}`))
		case emptyKeySet:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"keys":[]}`))
		case stall:
			select {
			case <-r.Context().Done():
			case <-closing:
			case <-time.After(30 * time.Second):
			}
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("fault proxy: %v", err)
	}
	srv.Listener = l
	srv.Start()
	t.Cleanup(func() { close(closing); srv.Close() })
	return p
}

func (p *faultProxy) set(f jwksFault) { p.fault.Store(int32(f)) }

// addUnparsableKey puts keys no library can use next to the real ones: a key type that does not exist and an
// OKP curve keyfunc does not support.
func addUnparsableKey(resp *http.Response) error {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return err
	}
	resp.Body.Close()
	set.Keys = append([]json.RawMessage{
		json.RawMessage(`{"kty":"XYZ","kid":"mystery","use":"sig","alg":"XYZ1"}`),
		json.RawMessage(`{"kty":"OKP","crv":"X448","kid":"x448","x":"mwj3zDG34-Z9ItWuoSEHSic70rg94Jxj-qc9LCLF2bvINmRyQdlT1AxbEtqIEg1TF3-A5TLEH6A"}`),
	}, set.Keys...)
	b, err := json.Marshal(set)
	if err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
	return nil
}

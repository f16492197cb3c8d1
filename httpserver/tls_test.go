package httpserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testPair is a self-signed certificate for 127.0.0.1 in PEM, with its serial to tell pairs apart.
type testPair struct {
	certPEM, keyPEM []byte
	serial          int64
	cert            *x509.Certificate
}

var serials atomic.Int64

func newTestPair(t *testing.T) testPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial := serials.Add(1)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testPair{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		serial:  serial,
		cert:    cert,
	}
}

// writeAtomically replaces path as a renewing tool does: a new file renamed over the old one.
func writeAtomically(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// fakeNow is a clock the test moves by hand.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeNow) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeNow) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// tlsServer serves "ok" over TLS with the pair in dir's files and returns its address, the CertFiles, the log and
// a client that trusts every pair in trusted.
func tlsServer(t *testing.T, dir string, first testPair, trusted ...testPair) (string, *CertFiles, *strings.Builder, *fakeNow) {
	t.Helper()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeAtomically(t, certFile, first.certPEM)
	writeAtomically(t, keyFile, first.keyPEM)
	logs := &lockedBuilder{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	certs, err := LoadCertFiles(certFile, keyFile, logger)
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeNow{t: time.Now()}
	certs.now = clk.now
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Proto) }), logger)
	srv.TLSConfig = TLSConfig(certs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, srv, ln, 5*time.Second, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := result(t, done); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), certs, &logs.Builder, clk
}

// lockedBuilder is a strings.Builder safe for the server's goroutines.
type lockedBuilder struct {
	mu sync.Mutex
	strings.Builder
}

func (b *lockedBuilder) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Builder.Write(p)
}

func trustingClient(pairs ...testPair) *http.Client {
	roots := x509.NewCertPool()
	for _, p := range pairs {
		roots.AddCert(p.cert)
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
		DisableKeepAlives: true, // a handshake per request, so each one sees the current pair
	}}
}

// servedSerial makes one TLS handshake and returns the serial of the certificate the server sent.
func servedSerial(t *testing.T, addr string) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // only reads which pair is served
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func TestServeTLS(t *testing.T) {
	pair := newTestPair(t)
	addr, _, _, _ := tlsServer(t, t.TempDir(), pair)
	resp, err := trustingClient(pair).Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "HTTP/2.0" || resp.TLS == nil {
		t.Errorf("got %d %q (TLS %v), want 200 over HTTP/2 with TLS", resp.StatusCode, body, resp.TLS != nil)
	}

	// TLS 1.2 is the floor: a client that offers at most 1.1 is refused.
	old := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	if conn, err := tls.Dial("tcp", addr, old); err == nil {
		conn.Close()
		t.Error("a TLS 1.1 client was served, want refused")
	}
	// Plain HTTP on the TLS port gets no answer from the handler.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP was served on the TLS port")
		}
	}
}

// TestCertReloadUnderTraffic: the pair is replaced in place while requests keep coming, each on a new connection;
// none fails, and the new pair is served without a restart.
func TestCertReloadUnderTraffic(t *testing.T) {
	dir := t.TempDir()
	first, second := newTestPair(t), newTestPair(t)
	addr, _, logs, clk := tlsServer(t, dir, first)
	client := trustingClient(first, second)

	stop := make(chan struct{})
	var sent, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := 0; i < 2000; i++ { // bounded, and stopped by the test
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				resp, err := client.Get("https://" + addr + "/")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = &net.AddrError{Err: resp.Status}
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}
	writeAtomically(t, filepath.Join(dir, "tls.crt"), second.certPEM)
	writeAtomically(t, filepath.Join(dir, "tls.key"), second.keyPEM)
	clk.advance(certCheckEvery)
	deadline := time.Now().Add(10 * time.Second)
	for servedSerial(t, addr) != second.serial {
		if time.Now().After(deadline) {
			t.Fatal("the new pair was never served")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Keep the traffic going on the new pair for a while too (bounded by the workers' own counts).
	for after := sent.Load() + 100; sent.Load() < after && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed during the reload; first: %v", failed.Load(), sent.Load(), firstErr.Load())
	}
	if !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Errorf("the reload was not logged:\n%s", logs)
	}
}

// TestBrokenNewPairKeepsTheOld: a certificate replaced before its key (the files do not match) is logged once and
// the old pair keeps serving; once the key follows, the new pair is served.
func TestBrokenNewPairKeepsTheOld(t *testing.T) {
	dir := t.TempDir()
	first, second := newTestPair(t), newTestPair(t)
	addr, _, logs, clk := tlsServer(t, dir, first)

	writeAtomically(t, filepath.Join(dir, "tls.crt"), second.certPEM) // the key is still first's
	for range 3 {
		clk.advance(certCheckEvery)
		if got := servedSerial(t, addr); got != first.serial {
			t.Fatalf("served serial %d with a mismatched new pair, want the old %d", got, first.serial)
		}
	}
	if n := strings.Count(logs.String(), "TLS certificate not reloaded"); n != 1 {
		t.Errorf("the broken pair was logged %d times, want once:\n%s", n, logs)
	}

	writeAtomically(t, filepath.Join(dir, "tls.key"), second.keyPEM)
	clk.advance(certCheckEvery)
	if got := servedSerial(t, addr); got != second.serial {
		t.Errorf("served serial %d after the key followed, want the new %d", got, second.serial)
	}
}

// TestCertFilesAreCheckedAtMostOncePerInterval: between checks a changed file is not even read.
func TestCertFilesAreCheckedAtMostOncePerInterval(t *testing.T) {
	dir := t.TempDir()
	first, second := newTestPair(t), newTestPair(t)
	addr, _, _, clk := tlsServer(t, dir, first)
	writeAtomically(t, filepath.Join(dir, "tls.crt"), second.certPEM)
	writeAtomically(t, filepath.Join(dir, "tls.key"), second.keyPEM)
	if got := servedSerial(t, addr); got != first.serial {
		t.Errorf("served serial %d before the interval passed, want the old %d", got, first.serial)
	}
	clk.advance(certCheckEvery)
	if got := servedSerial(t, addr); got != second.serial {
		t.Errorf("served serial %d after the interval, want the new %d", got, second.serial)
	}
}

func TestLoadCertFilesRefusesBadPairs(t *testing.T) {
	dir := t.TempDir()
	a, b := newTestPair(t), newTestPair(t)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cert, key, otherKey := write("a.crt", a.certPEM), write("a.key", a.keyPEM), write("b.key", b.keyPEM)
	junk := write("junk", []byte("not PEM"))
	tests := []struct {
		name, cert, key, want string
	}{
		{"missing certificate", filepath.Join(dir, "none.crt"), key, "reading TLS certificate"},
		{"missing key", cert, filepath.Join(dir, "none.key"), "reading TLS key"},
		{"key of another certificate", cert, otherKey, "loading TLS pair"},
		{"not PEM", junk, key, "loading TLS pair"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadCertFiles(tt.cert, tt.key, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := LoadCertFiles(cert, key, slog.New(slog.DiscardHandler)); err != nil {
		t.Errorf("a good pair: %v", err)
	}
}

// TestShutdownWithHTTP2Connections: an HTTP/2 connection does not end when keep-alives go off, so it must not hold
// the drain until the timeout; a request in flight on one still gets its answer, and Serve returns nil.
func TestShutdownWithHTTP2Connections(t *testing.T) {
	for _, inFlight := range []bool{false, true} {
		t.Run(map[bool]string{false: "idle connection", true: "request in flight"}[inFlight], func(t *testing.T) {
			pair := newTestPair(t)
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
			writeAtomically(t, certFile, pair.certPEM)
			writeAtomically(t, keyFile, pair.keyPEM)
			certs, err := LoadCertFiles(certFile, keyFile, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			entered, release := make(chan struct{}), make(chan struct{})
			srv := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					close(entered)
					<-release
				}
				_, _ = io.WriteString(w, r.Proto)
			}), slog.New(slog.DiscardHandler))
			srv.TLSConfig = TLSConfig(certs)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			// A shutdown timeout far longer than the test's wait in result, so a held drain shows as an error.
			go func() { done <- Serve(ctx, srv, ln, 3*time.Second, slog.New(slog.DiscardHandler)) }()

			client := trustingClient(pair)
			client.Transport.(*http.Transport).DisableKeepAlives = false
			base := "https://" + ln.Addr().String()
			resp, err := client.Get(base + "/") // opens the HTTP/2 connection, which then stays open
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.ProtoMajor != 2 {
				t.Fatalf("got %s, want HTTP/2", resp.Proto)
			}
			slow := make(chan error, 1)
			if inFlight {
				go func() {
					resp, err := client.Get(base + "/slow")
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode != 200 {
							err = &net.AddrError{Err: resp.Status}
						}
					}
					slow <- err
				}()
				<-entered
			}
			cancel()
			if inFlight {
				time.Sleep(50 * time.Millisecond) // let the shutdown begin while the request is in flight
				close(release)
				if err := <-slow; err != nil {
					t.Errorf("the request in flight at shutdown: %v", err)
				}
			}
			if err := result(t, done); err != nil {
				t.Errorf("Serve returned %v, want nil (an HTTP/2 connection held the drain)", err)
			}
		})
	}
}

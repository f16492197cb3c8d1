package httpserver

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certCheckEvery bounds how often the certificate files are looked at: at most once per interval, on a handshake.
const certCheckEvery = time.Second

// CertFiles serves the certificate and key in two PEM files and reloads them, without a restart, when either file
// changes: cert-manager, a Kubernetes Secret or a renewed development certificate replaces them in place. A new
// pair that does not load (a half-written file, a key of another certificate) is logged and the old pair keeps
// serving; the next change is tried again.
type CertFiles struct {
	certFile, keyFile string
	logger            *slog.Logger
	now               func() time.Time

	mu         sync.Mutex
	cert       *tls.Certificate
	certPEM    []byte // what cert was loaded from, to see a change even when a copy keeps the modification time
	keyPEM     []byte
	lastCheck  time.Time
	lastFailed string // the files' contents of the last pair that failed to load, to log each bad pair once
}

// LoadCertFiles loads the pair once; an error here stops the service at start, where a mistake is easiest to see.
func LoadCertFiles(certFile, keyFile string, logger *slog.Logger) (*CertFiles, error) {
	c := &CertFiles{certFile: certFile, keyFile: keyFile, logger: logger, now: time.Now}
	certPEM, keyPEM, cert, err := c.load()
	if err != nil {
		return nil, err
	}
	c.cert, c.certPEM, c.keyPEM, c.lastCheck = cert, certPEM, keyPEM, c.now()
	return c, nil
}

func (c *CertFiles) load() (certPEM, keyPEM []byte, cert *tls.Certificate, err error) {
	certPEM, err = os.ReadFile(c.certFile)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading TLS certificate: %w", err)
	}
	keyPEM, err = os.ReadFile(c.keyFile)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading TLS key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("loading TLS pair %s, %s: %w", c.certFile, c.keyFile, err)
	}
	return certPEM, keyPEM, &pair, nil
}

// GetCertificate is tls.Config.GetCertificate: the current pair, reloaded first when the files changed.
func (c *CertFiles) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); now.Sub(c.lastCheck) >= certCheckEvery {
		c.lastCheck = now
		c.reload()
	}
	return c.cert, nil
}

// reload reads both files and swaps the pair in when they changed and load; c.mu is held. Reading two small files
// once a second is cheaper than being wrong about a modification time.
func (c *CertFiles) reload() {
	certPEM, err1 := os.ReadFile(c.certFile)
	keyPEM, err2 := os.ReadFile(c.keyFile)
	if err1 == nil && err2 == nil && bytes.Equal(certPEM, c.certPEM) && bytes.Equal(keyPEM, c.keyPEM) {
		return
	}
	newCertPEM, newKeyPEM, cert, err := c.load()
	if err != nil {
		// A pair being replaced is briefly half new; say so once per bad pair, not once a second.
		if seen := string(newCertPEM) + "\x00" + string(newKeyPEM) + "\x00" + err.Error(); seen != c.lastFailed {
			c.lastFailed = seen
			c.logger.Warn("TLS certificate not reloaded; the previous one keeps serving", "error", err)
		}
		return
	}
	c.cert, c.certPEM, c.keyPEM, c.lastFailed = cert, newCertPEM, newKeyPEM, ""
	c.logger.Info("TLS certificate reloaded", "cert", c.certFile, "not_after", cert.Leaf.NotAfter)
}

// TLSConfig is the server side of TLS for both services: TLS 1.2 at least, the certificate from files, HTTP/2
// (ServeTLS adds h2 to the protocols).
func TLSConfig(certs *CertFiles) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: certs.GetCertificate,
	}
}

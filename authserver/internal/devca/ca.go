// Package devca is a development certificate authority, in the manner of
// `dotnet dev-certs https`: one CA kept in a directory, trusted once by the
// developer, and a fresh server certificate for local host names signed by it
// on every run.
package devca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/tokenbearer/authserver/internal/atomicfile"
	"github.com/tokenbearer/authserver/internal/keystore"
)

// The files in the directory. tls.crt and tls.key are the names of a
// Kubernetes TLS Secret, so the directory can become one as it is.
const (
	CACertFile   = "ca.crt"
	CAKeyFile    = "ca.key"
	LeafCertFile = "tls.crt"
	LeafKeyFile  = "tls.key"
)

// CAName is the common name of the CA, the name a developer looks for in
// their trust store.
const CAName = "tokenbearer development CA"

// caValidity is long enough that the CA is trusted once per machine rather
// than once a year; only leaves are held to the browsers' 397 days.
const caValidity = 5 * 365 * 24 * time.Hour

// CA is the development CA: its certificate and the key that signs leaves.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte // the bytes of ca.crt
	key     crypto.Signer
}

// LoadOrCreateCA reads dir/ca.crt and dir/ca.key, or creates both (and dir,
// 0755) when neither exists; created reports which. A CA already trusted
// must keep working, so an incomplete or inconsistent pair is an error that
// names the file to delete rather than being silently replaced.
func LoadOrCreateCA(dir string) (ca *CA, created bool, err error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		ca, err := parseCA(certPEM, keyPEM, certPath, keyPath)
		return ca, false, err
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		ca, err := createCA(dir, certPath, keyPath)
		return ca, err == nil, err
	case certErr == nil && errors.Is(keyErr, fs.ErrNotExist):
		return nil, false, fmt.Errorf("%s exists but its key %s does not: delete %s (and remove it from the trust stores you added it to) to create a new CA",
			certPath, keyPath, certPath)
	case errors.Is(certErr, fs.ErrNotExist) && keyErr == nil:
		return nil, false, fmt.Errorf("%s exists but its certificate %s does not: delete %s to create a new CA", keyPath, certPath, keyPath)
	case certErr != nil:
		return nil, false, fmt.Errorf("reading CA certificate: %w", certErr)
	default:
		return nil, false, fmt.Errorf("reading CA key: %w", keyErr)
	}
}

func parseCA(certPEM, keyPEM []byte, certPath, keyPath string) (*CA, error) {
	startOver := fmt.Sprintf("delete %s and %s (and remove the old CA from the trust stores you added it to) to create a new CA", certPath, keyPath)
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; %s", certPath, err, startOver)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("%s is not a CA certificate (it cannot sign certificates); %s", certPath, startOver)
	}
	if now := time.Now(); now.After(cert.NotAfter) {
		return nil, fmt.Errorf("%s expired on %s; %s", certPath, cert.NotAfter.UTC().Format(time.DateOnly), startOver)
	}
	key, err := keystore.ParsePEMSigner(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; %s", keyPath, err, startOver)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s does not match %s (it is the key of another certificate); %s", keyPath, certPath, startOver)
	}
	return &CA{Cert: cert, CertPEM: certPEM, key: key}, nil
}

func createCA(dir, certPath, keyPath string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	notBefore := time.Now().Add(-clockSkew)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: CAName, Organization: []string{"tokenbearer development"}},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		// It signs leaves only, never another CA.
		MaxPathLen:     0,
		MaxPathLenZero: true,
		KeyUsage:       x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing new CA certificate: %w", err)
	}
	keyPEM, err := marshalKeyPEM(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating directory: %w", err)
	}
	// The key first: a run stopped in between leaves a key alone, which
	// nobody can have trusted yet. Neither file may replace one that a
	// concurrent run has just created, or its leaf would lose its CA.
	if err := createFile(keyPath, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("writing CA key: %w", err)
	}
	if err := createFile(certPath, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("writing CA certificate: %w", err)
	}
	return &CA{Cert: cert, CertPEM: certPEM, key: key}, nil
}

// clockSkew backdates every certificate so that a machine whose clock is a
// little behind (a container, a VM just resumed) accepts it at once.
const clockSkew = 5 * time.Minute

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	return serial, nil
}

func parseCertPEM(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return x509.ParseCertificate(block.Bytes)
}

// marshalKeyPEM writes PKCS #8, which Go, OpenSSL, Node and nginx all read.
func marshalKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// createFile puts a CA file in place only if none is there, so two runs at
// once cannot replace each other's CA.
func createFile(path string, data []byte, mode os.FileMode) error {
	err := atomicfile.Create(path, data, mode)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s was created by another run meanwhile; run again: %w", path, err)
	}
	return err
}

package httpserver

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// ReadCertificates reads a PEM bundle of certificates, such as --client-ca or --authority-ca. Every block must be
// a certificate and there must be at least one: anything else means the wrong file (a key, say), which is better
// said at start than found later as an unknown-authority error. Errors name the file and the block.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n := len(certs) + 1
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: PEM block %d is a %s, want CERTIFICATE", path, n, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", path, n, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificates", path)
	}
	return certs, nil
}

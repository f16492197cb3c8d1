package keystore

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func TestParsePrivateKey(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, MinRSABits)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	sec1, _ := x509.MarshalECPrivateKey(ecKey)
	esKey, _ := NewKey(ES256, ecKey)
	jwk, _ := MarshalJWK(esKey)
	tests := []struct {
		name, rsaAlg string
		data         []byte
		wantAlg      string
		wantErr      string
	}{
		{name: "PKCS #8 RSA for PS256", data: pkcs8(rsaKey), rsaAlg: PS256, wantAlg: PS256},
		{name: "PKCS #8 RSA, non-RSA signing alg", data: pkcs8(rsaKey), rsaAlg: EdDSA, wantAlg: RS256},
		{name: "PKCS #1 RSA", data: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), rsaAlg: RS256, wantAlg: RS256},
		{name: "PKCS #8 P-256", data: pkcs8(ecKey), wantAlg: ES256},
		{name: "SEC 1 P-256", data: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), wantAlg: ES256},
		{name: "PKCS #8 Ed25519", data: pkcs8(edKey), wantAlg: EdDSA},
		{name: "JWK keeps its alg", data: append([]byte("\n  "), jwk...), rsaAlg: RS256, wantAlg: ES256},
		{name: "P-384 refused", data: pkcs8(p384), wantErr: "P-256"},
		{name: "certificate refused", data: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), wantErr: `PEM block "CERTIFICATE" is not a private key`},
		{name: "garbage refused", data: []byte("hello"), wantErr: "neither a JWK nor a PEM private key"},
		{name: "broken DER refused", data: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}}), wantErr: "parsing PRIVATE KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePrivateKey(tt.data, tt.rsaAlg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Algorithm != tt.wantAlg {
				t.Errorf("got alg %s, want %s", k.Algorithm, tt.wantAlg)
			}
			if want, _ := NewKey(k.Algorithm, k.Signer); want.ID != k.ID {
				t.Errorf("got kid %s, want the thumbprint %s", k.ID, want.ID)
			}
		})
	}
}

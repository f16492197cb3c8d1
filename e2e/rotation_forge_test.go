package e2e

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func slotFile(keyDir string, slot int64) string {
	return filepath.Join(keyDir, fmt.Sprintf("slot-%06d.json", slot))
}

// forger signs tokens shaped like authserver's with a private key taken from the key store.
type forger struct {
	kid    string
	method jwt.SigningMethod
	key    any
}

// readSlotKey reads the private JWK of a slot's file in the key directory (stored in clear).
func readSlotKey(t *testing.T, keyDir string, slot int64) *forger {
	t.Helper()
	data, err := os.ReadFile(slotFile(keyDir, slot))
	if err != nil {
		t.Fatalf("reading the key of slot %d: %v", slot, err)
	}
	var record struct {
		Slot int64             `json:"slot"`
		Key  map[string]string `json:"key"`
	}
	if err := json.Unmarshal(data, &record); err != nil || record.Slot != slot {
		t.Fatalf("slot %d file: got slot %d, error %v, want a record of slot %d with a private JWK", slot, record.Slot, err, slot)
	}
	jwk := record.Key
	d, err := base64.RawURLEncoding.DecodeString(jwk["d"])
	if err != nil || len(d) == 0 {
		t.Fatalf("slot %d: private member d %q: %v", slot, jwk["d"], err)
	}
	f := &forger{kid: jwk["kid"]}
	switch {
	case jwk["kty"] == "OKP" && jwk["crv"] == "Ed25519":
		f.method, f.key = jwt.SigningMethodEdDSA, ed25519.NewKeyFromSeed(d)
	case jwk["kty"] == "EC" && jwk["crv"] == "P-256":
		if f.key, err = ecdsa.ParseRawPrivateKey(elliptic.P256(), d); err != nil {
			t.Fatalf("slot %d: %v", slot, err)
		}
		f.method = jwt.SigningMethodES256
	default:
		t.Fatalf("slot %d: got key type %s curve %s, want Ed25519 or P-256", slot, jwk["kty"], jwk["crv"])
	}
	if f.kid == "" {
		t.Fatalf("slot %d: private JWK without a kid", slot)
	}
	return f
}

// forge copies the claims of a real token from authURL (iss, aud, scope, client) and signs them afresh, with a
// new jti and lifetime, under the forger's key and kid.
func (f *forger) forge(t *testing.T, authURL string) string {
	t.Helper()
	_, claims := requestToken(t, authURL, demoClient)
	now := time.Now()
	claims["jti"], claims["iat"], claims["nbf"], claims["exp"] = rand.Text(), now.Unix(), now.Unix(), now.Add(time.Hour).Unix()
	tok := jwt.NewWithClaims(f.method, claims)
	tok.Header["kid"], tok.Header["typ"] = f.kid, "at+jwt"
	s, err := tok.SignedString(f.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Package accesstoken mints JWT access tokens in the RFC 9068 profile.
package accesstoken

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tokenbearer/authserver/internal/keystore"
)

// Type is the JWT "typ" header value RFC 9068 requires.
const Type = "at+jwt"

// Minter signs access tokens with the store's active key.
type Minter struct {
	Issuer   string
	Lifetime time.Duration
	Keys     *keystore.Store
	Now      func() time.Time // time.Now when nil
}

// Grant is what a token is issued for.
type Grant struct {
	ClientID string
	Audience []string // API resource names; one is encoded as a string
	Scopes   []string
	// CertificateThumbprint binds the token to the client's TLS certificate
	// (RFC 8705 3.1): the cnf claim's x5t#S256. Empty issues a bearer token
	// without cnf.
	CertificateThumbprint string
}

// Mint returns a signed token for g.
func (m *Minter) Mint(g Grant) (string, error) {
	key, err := m.Keys.Signing()
	if err != nil {
		return "", fmt.Errorf("minting token: %w", err)
	}
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	iat := now().Unix()
	jti := make([]byte, 16)
	rand.Read(jti) // never fails since Go 1.24

	// RFC 9068 2.2 allows aud as a string or an array; a single audience is
	// sent as a string, which jwt.ClaimStrings would encode as an array.
	var aud any = g.Audience
	if len(g.Audience) == 1 {
		aud = g.Audience[0]
	}
	claims := jwt.MapClaims{
		"iss":       m.Issuer,
		"sub":       g.ClientID,
		"client_id": g.ClientID,
		"aud":       aud,
		"scope":     strings.Join(g.Scopes, " "),
		"iat":       iat,
		"nbf":       iat,
		"exp":       iat + int64(m.Lifetime/time.Second),
		"jti":       base64.RawURLEncoding.EncodeToString(jti),
	}
	if g.CertificateThumbprint != "" {
		claims["cnf"] = map[string]string{"x5t#S256": g.CertificateThumbprint}
	}
	tok := jwt.NewWithClaims(key.Method(), claims)
	tok.Header["typ"] = Type
	tok.Header["kid"] = key.ID
	signed, err := tok.SignedString(key.Signer)
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return signed, nil
}

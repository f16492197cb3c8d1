// Package bearertest is a fake authorization server for tests of code that uses package bearer: a discovery
// document, a JWKS, and a signer for access tokens, on an httptest.Server. Its switches (Down, Stall, PadJWKS,
// SetIssuer, AddKey, AddKeyWith, RemoveKey, Override) let tests play the authority's failure modes. NewTLSAuthority
// serves it over HTTPS with a certificate of a test CA (NewCA), which also signs the client certificates that
// BoundToken binds tokens to.
package bearertest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Paths served by an Authority.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/.well-known/openid-configuration/jwks"
)

// Authority is a running fake authorization server. Its zero value is not usable; call NewAuthority.
type Authority struct {
	// URL is the server's base URL and, unless SetIssuer changes it, its issuer.
	URL string
	// Key signs tokens by default; its kid is KID and it is in the JWKS from the start.
	Key *rsa.PrivateKey
	KID string

	mu        sync.Mutex
	issuer    string
	keys      map[string]publishedKey
	overrides map[string]http.HandlerFunc

	down        atomic.Bool
	stall       atomic.Bool
	padding     atomic.Int64
	release     chan struct{}
	discoveries atomic.Int64
	jwksFetches atomic.Int64
}

// NewAuthority starts an Authority over plain HTTP on loopback with one RSA key and closes it when the test ends.
func NewAuthority(t testing.TB) *Authority {
	t.Helper()
	return newAuthority(t, func(srv *httptest.Server) { srv.Start() })
}

// NewTLSAuthority is NewAuthority over HTTPS with cert (CA.Server for "127.0.0.1", say): its URL and issuer are
// https://127.0.0.1:PORT, and a client reaches it only if it trusts cert's issuer.
func NewTLSAuthority(t testing.TB, cert tls.Certificate) *Authority {
	t.Helper()
	return newAuthority(t, func(srv *httptest.Server) {
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		// Tests play clients that do not trust cert; their failed handshakes are the point, not news.
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.StartTLS()
	})
}

func newAuthority(t testing.TB, start func(*httptest.Server)) *Authority {
	t.Helper()
	a := &Authority{Key: Keys(t)[0], KID: "key-1", keys: map[string]publishedKey{}, overrides: map[string]http.HandlerFunc{}, release: make(chan struct{})}
	a.AddKey(a.KID, &a.Key.PublicKey)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(a.serve))
	start(srv)
	a.URL, a.issuer = srv.URL, srv.URL
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(a.release) }) // runs before srv.Close, so stalled handlers let Close finish
	return a
}

func (a *Authority) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	issuer := a.issuer
	keys := make([]map[string]string, 0, len(a.keys))
	for kid, k := range a.keys {
		jwk := publicJWK(k.pub)
		jwk["kid"] = kid
		if k.use != "" {
			jwk["use"] = k.use
		}
		if k.alg != "" {
			jwk["alg"] = k.alg
		}
		keys = append(keys, jwk)
	}
	override := a.overrides[r.URL.Path]
	a.mu.Unlock()
	switch r.URL.Path {
	case DiscoveryPath:
		a.discoveries.Add(1)
	case JWKSPath:
		a.jwksFetches.Add(1)
	}
	if a.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if override != nil {
		override(w, r)
		return
	}
	switch r.URL.Path {
	case DiscoveryPath:
		writeJSON(w, map[string]any{"issuer": issuer, "jwks_uri": a.URL + JWKSPath})
	case JWKSPath:
		if a.stall.Load() {
			select {
			case <-r.Context().Done():
			case <-a.release:
			}
			return
		}
		jwks := map[string]any{"keys": keys}
		if n := a.padding.Load(); n > 0 {
			jwks["padding"] = strings.Repeat("x", int(n))
		}
		writeJSON(w, jwks)
	default:
		http.NotFound(w, r)
	}
}

// Down makes every endpoint answer 503 while down is true.
func (a *Authority) Down(down bool) { a.down.Store(down) }

// Stall makes JWKS requests hang until the client gives up while stall is true.
func (a *Authority) Stall(stall bool) { a.stall.Store(stall) }

// PadJWKS adds a member of n bytes to the JWKS document (0 removes it), to play an oversized key set.
func (a *Authority) PadJWKS(n int) { a.padding.Store(int64(n)) }

// SetIssuer changes the issuer the discovery document announces.
func (a *Authority) SetIssuer(issuer string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.issuer = issuer
}

// publishedKey is one JWKS entry; an empty use or alg leaves that member out.
type publishedKey struct {
	pub      crypto.PublicKey
	use, alg string
}

// publicJWK is the JWK of pub without kid, use or alg: kty and the public members of an RSA, ECDSA or Ed25519 key.
func publicJWK(pub crypto.PublicKey) map[string]string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		raw, err := k.Bytes() // 0x04 || x || y, each coordinate padded to the curve's size as RFC 7518 6.2.1.2 wants
		if err != nil {
			panic(fmt.Sprintf("bearertest: %v", err))
		}
		size := (len(raw) - 1) / 2
		return map[string]string{"kty": "EC", "crv": k.Curve.Params().Name, "x": b64(raw[1 : 1+size]), "y": b64(raw[1+size:])}
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(k)}
	}
	panic(fmt.Sprintf("bearertest: no JWK for a %T key", pub))
}

// AddKey publishes pub under kid in the JWKS (a key rotation), with "use":"sig" and "alg":"RS256" as the SPEC
// requires.
func (a *Authority) AddKey(kid string, pub *rsa.PublicKey) { a.AddKeyWith(kid, pub, "sig", "RS256") }

// AddKeyWith publishes pub (an *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey) under kid with the given
// "use" and "alg" members, each left out when empty: an encryption key ("enc"), or a key that does not say what it
// is for. Another type of key panics.
func (a *Authority) AddKeyWith(kid string, pub crypto.PublicKey, use, alg string) {
	publicJWK(pub) // panics now, not in a handler
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys[kid] = publishedKey{pub: pub, use: use, alg: alg}
}

// Override makes requests for path answer with h instead of the normal document (a nil h restores it), to play a
// broken discovery document or JWKS endpoint. Down still wins, and requests are still counted.
func (a *Authority) Override(path string, h http.HandlerFunc) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if h == nil {
		delete(a.overrides, path)
		return
	}
	a.overrides[path] = h
}

// RemoveKey stops publishing kid in the JWKS (the end of a rotation; removing every key serves an empty set).
func (a *Authority) RemoveKey(kid string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.keys, kid)
}

// DiscoveryFetches and JWKSFetches count the requests received on each endpoint, also while down or stalled.
func (a *Authority) DiscoveryFetches() int64 { return a.discoveries.Load() }
func (a *Authority) JWKSFetches() int64      { return a.jwksFetches.Load() }

// Header returns the JOSE header of a valid access token: RS256, the default kid, typ at+jwt.
func (a *Authority) Header() map[string]any {
	return map[string]any{"alg": "RS256", "kid": a.KID, "typ": "at+jwt"}
}

// Claims returns the claims of a valid access token for audience and scope, issued now for an hour.
func (a *Authority) Claims(audience, scope string) jwt.MapClaims {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	return jwt.MapClaims{
		"iss": a.issuer, "sub": "ApiClient", "client_id": "ApiClient", "aud": audience, "scope": scope,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "test-jti",
	}
}

// Token signs a valid access token for audience and scope with the default key.
func (a *Authority) Token(t testing.TB, audience, scope string) string {
	t.Helper()
	return Sign(t, a.Key, a.Header(), a.Claims(audience, scope))
}

// BoundToken signs a valid access token for audience and scope bound to the client certificate cert: its cnf claim
// carries cert's x5t#S256 (RFC 8705 3.1), so a resource server must refuse it from a client without cert.
func (a *Authority) BoundToken(t testing.TB, audience, scope string, cert tls.Certificate) string {
	t.Helper()
	return Sign(t, a.Key, a.Header(), Bind(a.Claims(audience, scope), cert))
}

// Sign builds a compact JWS with exactly the given header and claims; the header's alg picks the method and key
// must suit it (an *rsa.PrivateKey for RS* and PS*, an *ecdsa.PrivateKey for ES*, an ed25519.PrivateKey for EdDSA,
// []byte for HS*, jwt.UnsafeAllowNoneSignatureType for none).
func Sign(t testing.TB, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	alg, _ := header["alg"].(string)
	method := jwt.GetSigningMethod(alg)
	if method == nil {
		t.Fatalf("bearertest: unknown alg %q", alg)
	}
	tok := jwt.NewWithClaims(method, claims)
	tok.Header = header
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("bearertest: signing: %v", err)
	}
	return s
}

var (
	keysOnce sync.Once
	keys     [3]*rsa.PrivateKey
	keysErr  error
)

// Keys returns three RSA-2048 keys, generated once per test binary because generation is slow.
func Keys(t testing.TB) [3]*rsa.PrivateKey {
	t.Helper()
	keysOnce.Do(func() {
		for i := range keys {
			if keys[i], keysErr = rsa.GenerateKey(rand.Reader, 2048); keysErr != nil {
				return
			}
		}
	})
	if keysErr != nil {
		t.Fatalf("bearertest: generating keys: %v", keysErr)
	}
	return keys
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		panic(fmt.Sprintf("bearertest: encoding: %v", err))
	}
}

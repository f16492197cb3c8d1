package bearer_test

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/tokenbearer/valuesapi/bearer"
	"github.com/tokenbearer/valuesapi/bearer/bearertest"
)

const bindingRefused = "token is bound to a certificate the request did not present"

// bindingFixture is a ready validator behind GET /values over real TLS that requests (never requires) a client
// certificate, as valuesapi serves it, plus two client certificates of a test CA.
type bindingFixture struct {
	a          *bearertest.Authority
	ca         *bearertest.CA
	tlsURL     string
	plainURL   string
	certA      tls.Certificate
	certB      tls.Certificate
	serverPool *x509.CertPool
}

func newBindingFixture(t *testing.T) *bindingFixture {
	t.Helper()
	a := bearertest.NewAuthority(t)
	v := newValidator(t, a.URL, nil)
	waitReady(t, v)
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/values", v.Require("auth.web.api"), func(c *gin.Context) { c.String(http.StatusOK, "ok") })

	ca := bearertest.NewCA(t)
	srv := httptest.NewUnstartedServer(r)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "127.0.0.1")}, ClientAuth: tls.RequestClientCert}
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	plain := httptest.NewServer(r)
	t.Cleanup(plain.Close)
	return &bindingFixture{a: a, ca: ca, tlsURL: srv.URL, plainURL: plain.URL,
		certA: ca.Client(t, "client-a"), certB: ca.Client(t, "client-b"), serverPool: ca.Pool()}
}

// get calls GET /values on base with token, presenting certs (none, or one), and returns the status and the
// error_description.
func (fx *bindingFixture) get(t *testing.T, base, token string, certs ...tls.Certificate) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: fx.serverPool, Certificates: certs},
		ForceAttemptHTTP2: true,
	}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, base+"/values", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(base, "https:") && resp.ProtoMajor != 2 {
		t.Errorf("got %s, want HTTP/2: the binding must hold on the protocol browsers and clients use", resp.Proto)
	}
	var body struct {
		Description string `json:"error_description"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode == http.StatusUnauthorized {
		if want := `Bearer error="invalid_token", error_description="` + body.Description + `"`; resp.Header.Get("WWW-Authenticate") != want {
			t.Errorf("got challenge %q, want %q", resp.Header.Get("WWW-Authenticate"), want)
		}
	}
	return resp.StatusCode, body.Description
}

// TestCertificateBoundTokens (RFC 8705 3): a token whose cnf names a certificate's x5t#S256 is accepted only from a
// client that presented that certificate in the TLS handshake; one without cnf is accepted from anyone. Over plain
// HTTP a bound token cannot be proven and is always refused.
func TestCertificateBoundTokens(t *testing.T) {
	fx := newBindingFixture(t)
	unbound := fx.a.Token(t, audience, "auth.web.api")
	boundA := fx.a.BoundToken(t, audience, "auth.web.api", fx.certA)
	tests := []struct {
		name     string
		base     string
		token    string
		certs    []tls.Certificate
		wantCode int
		wantDesc string
	}{
		{"bound, its certificate", fx.tlsURL, boundA, []tls.Certificate{fx.certA}, 200, ""},
		{"bound, no certificate", fx.tlsURL, boundA, nil, 401, bindingRefused},
		{"bound, another certificate of the same CA", fx.tlsURL, boundA, []tls.Certificate{fx.certB}, 401, bindingRefused},
		{"bound, plain HTTP", fx.plainURL, boundA, nil, 401, bindingRefused},
		{"unbound, no certificate", fx.tlsURL, unbound, nil, 200, ""},
		{"unbound, a certificate", fx.tlsURL, unbound, []tls.Certificate{fx.certA}, 200, ""},
		{"unbound, plain HTTP", fx.plainURL, unbound, nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Twice: the second answer comes from the token cache, which must apply the binding as well.
			for i := range 2 {
				code, desc := fx.get(t, tt.base, tt.token, tt.certs...)
				if code != tt.wantCode || desc != tt.wantDesc {
					t.Errorf("request %d: got %d %q, want %d %q", i+1, code, desc, tt.wantCode, tt.wantDesc)
				}
			}
		})
	}
}

// TestCertificateBindingComparesTheLeaf: only the leaf certificate the connection presented counts, not another
// one of its chain, and the thumbprint must be exactly the base64url SHA-256 of its DER (no padding, no hex, no
// other hash).
func TestCertificateBindingComparesTheLeaf(t *testing.T) {
	a := bearertest.NewAuthority(t)
	v := newValidator(t, a.URL, nil)
	waitReady(t, v)
	ca := bearertest.NewCA(t)
	certA, certB := ca.Client(t, "client-a"), ca.Client(t, "client-b")
	thumbA := bearertest.Thumbprint(certA)
	sumA, sha1A := sha256.Sum256(certA.Leaf.Raw), sha1.Sum(certA.Leaf.Raw)
	conn := func(certs ...tls.Certificate) *tls.ConnectionState {
		cs := &tls.ConnectionState{}
		for _, c := range certs {
			cs.PeerCertificates = append(cs.PeerCertificates, c.Leaf)
		}
		return cs
	}
	tests := []struct {
		name    string
		cnf     any
		conn    *tls.ConnectionState
		wantErr bool
	}{
		{"the leaf", map[string]any{"x5t#S256": thumbA}, conn(certA), false},
		{"the leaf, with the CA after it", map[string]any{"x5t#S256": thumbA}, conn(certA, ca.Certificate()), false},
		{"a certificate after another leaf", map[string]any{"x5t#S256": thumbA}, conn(certB, certA), true},
		{"the CA's thumbprint", map[string]any{"x5t#S256": bearertest.Thumbprint(ca.Certificate())}, conn(certA, ca.Certificate()), true},
		{"padded", map[string]any{"x5t#S256": thumbA + "="}, conn(certA), true},
		{"standard base64", map[string]any{"x5t#S256": base64.StdEncoding.EncodeToString(sumA[:])}, conn(certA), true},
		{"hex", map[string]any{"x5t#S256": hex.EncodeToString(sumA[:])}, conn(certA), true},
		{"SHA-1", map[string]any{"x5t#S256": base64.RawURLEncoding.EncodeToString(sha1A[:])}, conn(certA), true},
		{"a prefix of it", map[string]any{"x5t#S256": thumbA[:20]}, conn(certA), true},
		{"a TLS connection without a certificate", map[string]any{"x5t#S256": thumbA}, conn(), true},
		{"no connection state", map[string]any{"x5t#S256": thumbA}, nil, true},
		{"cnf without x5t#S256", map[string]any{}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims := a.Claims(audience, "auth.web.api")
			claims["cnf"] = tt.cnf
			_, err := v.ValidateTLS(context.Background(), bearertest.Sign(t, a.Key, a.Header(), claims), tt.conn)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var e *bearer.Error
			if !errors.As(err, &e) || e.Code != bearer.CodeInvalidToken || e.Description != bindingRefused {
				t.Errorf("got %v, want invalid_token %q", err, bindingRefused)
			}
		})
	}
}

// TestValidateRefusesBoundTokens: Validate has no connection to prove a binding with, so a bound token fails it,
// and a caller that forgets ValidateTLS is safe rather than open.
func TestValidateRefusesBoundTokens(t *testing.T) {
	a := bearertest.NewAuthority(t)
	v := newValidator(t, a.URL, nil)
	waitReady(t, v)
	cert := bearertest.NewCA(t).Client(t, "client")
	_, err := v.Validate(context.Background(), a.BoundToken(t, audience, "auth.web.api", cert))
	if err == nil || !strings.Contains(err.Error(), bindingRefused) {
		t.Errorf("got %v, want %q", err, bindingRefused)
	}
	claims, err := v.ValidateTLS(context.Background(), a.BoundToken(t, audience, "auth.web.api", cert),
		&tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Leaf}})
	if err != nil {
		t.Fatalf("ValidateTLS with the certificate: %v", err)
	}
	if got, want := claims.Confirmation.X5tS256, bearertest.Thumbprint(cert); got != want {
		t.Errorf("got cnf x5t#S256 %q, want %q", got, want)
	}
}

// TestMalformedConfirmation: a cnf that is not an object, or a thumbprint that is not a string, is a malformed
// token, not an unbound one.
func TestMalformedConfirmation(t *testing.T) {
	a := bearertest.NewAuthority(t)
	v := newValidator(t, a.URL, nil)
	waitReady(t, v)
	for _, cnf := range []any{"x", 1, []any{}, map[string]any{"x5t#S256": 1}} {
		claims := a.Claims(audience, "auth.web.api")
		claims["cnf"] = cnf
		_, err := v.ValidateTLS(context.Background(), bearertest.Sign(t, a.Key, a.Header(), jwt.MapClaims(claims)), &tls.ConnectionState{})
		if err == nil {
			t.Errorf("cnf %v: got nil, want an error", cnf)
		}
	}
}

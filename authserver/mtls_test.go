package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tokenbearer/authserver/internal/devca"
	"github.com/tokenbearer/authserver/internal/keystore"
	"github.com/tokenbearer/authserver/internal/registry"
	"github.com/tokenbearer/authserver/internal/secret"
	"github.com/tokenbearer/authserver/internal/throttle"
	"github.com/tokenbearer/httpserver"
)

// testCA is a development CA of devca, with its key, so that tests can sign
// client certificates with any subject (IssueLeaf names only hosts).
type testCA struct {
	*devca.CA
	dir string
	key crypto.Signer
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	dir := t.TempDir()
	ca, _, err := devca.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, devca.CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{CA: ca, dir: dir, key: key.(crypto.Signer)}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// hostLeaf is the pair `authserver dev-cert --hosts host` would write.
func (ca *testCA) hostLeaf(t *testing.T, host string) tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := ca.IssueLeaf([]string{host})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// certOpts shape a test certificate.
type certOpts struct {
	subject  pkix.Name
	key      *ecdsa.PrivateKey // a new one when nil
	validFor [2]time.Duration  // NotBefore, NotAfter from now; -1h, +1h when zero
	usage    x509.ExtKeyUsage  // ClientAuth when zero
	keyUsage x509.KeyUsage     // DigitalSignature when zero
}

// issue signs a certificate for o with ca, or self-signs it when ca is nil.
func issue(t *testing.T, ca *testCA, o certOpts) tls.Certificate {
	t.Helper()
	key := o.key
	if key == nil {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	if o.validFor == [2]time.Duration{} {
		o.validFor = [2]time.Duration{-time.Hour, time.Hour}
	}
	if o.usage == 0 {
		o.usage = x509.ExtKeyUsageClientAuth
	}
	if o.keyUsage == 0 {
		o.keyUsage = x509.KeyUsageDigitalSignature
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: o.subject,
		NotBefore: time.Now().Add(o.validFor[0]), NotAfter: time.Now().Add(o.validFor[1]),
		KeyUsage: o.keyUsage, ExtKeyUsage: []x509.ExtKeyUsage{o.usage},
	}
	parent, signer := tmpl, crypto.Signer(key)
	if ca != nil {
		parent, signer = ca.Cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func jwkYAML(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	j, err := keystore.JWKOf(pub)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(j)
	return string(b)
}

// mtlsConfigYAML registers a secret client and one client of each
// certificate kind; selfSignedKey is the self-signed client's registered key.
func mtlsConfigYAML(t *testing.T, selfSignedKey crypto.PublicKey) string {
	return fmt.Sprintf(`
apiResources:
  - name: auth.web.api
    scopes: [auth.web.api]
clients:
  - clientId: ApiClient
    clientSecrets: [%q]
    allowedGrantTypes: [client_credentials]
    allowedScopes: [auth.web.api]
  - clientId: by-subject
    tokenEndpointAuthMethod: tls_client_auth
    tlsClientAuthSubjectDN: "CN=by-subject, OU=payments, O=tokenbearer tests"
    allowedGrantTypes: [client_credentials]
    allowedScopes: [auth.web.api]
  - clientId: by-dns
    tokenEndpointAuthMethod: tls_client_auth
    tlsClientAuthSanDNS: client.example
    allowedGrantTypes: [client_credentials]
    allowedScopes: [auth.web.api]
  - clientId: self-signed
    tokenEndpointAuthMethod: self_signed_tls_client_auth
    jwks: [%s]
    allowedGrantTypes: [client_credentials]
    allowedScopes: [auth.web.api]
`, secret.HashOf("secret"), jwkYAML(t, selfSignedKey))
}

// mtlsServer is the token endpoint over real TLS, with the server's own
// TLS configuration (serverTLSConfig), and its log as JSON.
type mtlsServer struct {
	*httptest.Server
	logs *syncBuffer
}

func newMTLSServer(t *testing.T, reg *registry.Registry, ctls clientTLS, limiter *authThrottle) *mtlsServer {
	t.Helper()
	dir := t.TempDir()
	certPEM, keyPEM, err := newTestCA(t).IssueLeaf(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := devca.WriteLeaf(dir, certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	certs, err := httpserver.LoadCertFiles(filepath.Join(dir, devca.LeafCertFile), filepath.Join(dir, devca.LeafKeyFile), logger)
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = httpserver.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }), logger)
	srv.TLS = serverTLSConfig(certs)
	// The client connects by IP, without SNI, so httptest's own certificate
	// (which srv.Client trusts) is served; the rest is serverTLSConfig's.
	srv.StartTLS()
	t.Cleanup(srv.Close)
	handler = NewServer(logger, srv.URL, time.Hour, reg, testKeys(t), limiter, ctls)
	return &mtlsServer{Server: srv, logs: logs}
}

// post sends a token request presenting cert (none when nil) on a
// connection of its own.
func (s *mtlsServer) post(t *testing.T, cert *tls.Certificate, body string, basic *[2]string) (*http.Response, []byte) {
	t.Helper()
	tr := s.Client().Transport.(*http.Transport).Clone()
	if cert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/connect/token", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", formType)
	if basic != nil {
		req.Header.Set("Authorization", basicHeader(basic[0], basic[1]))
	}
	return answer(t)((&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req))
}

// lastFailureReason is the reason of the last "client authentication
// failed" line of logs.
func lastFailureReason(t *testing.T, logs string) string {
	t.Helper()
	reason := ""
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "client authentication failed" {
			reason, _ = rec["reason"].(string)
		}
	}
	return reason
}

// x5tS256 is RFC 8705 3.1's thumbprint of cert.
func x5tS256(cert tls.Certificate) string {
	sum := sha256.Sum256(cert.Certificate[0])
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestCertificateClientAuthentication: over real TLS, each certificate
// method lets in the certificate it is registered for, binds the token to
// it, and refuses every other with the one invalid_client answer; secret
// clients are unaffected by a certificate.
func TestCertificateClientAuthentication(t *testing.T) {
	ca, otherCA := newTestCA(t), newTestCA(t)
	selfKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	reg, err := registry.Parse([]byte(mtlsConfigYAML(t, selfKey.Public())))
	if err != nil {
		t.Fatal(err)
	}
	srv := newMTLSServer(t, reg, clientTLS{on: true, roots: ca.pool()}, newAuthThrottle(lenient, lenient, time.Now))

	subject := pkix.Name{CommonName: "by-subject", OrganizationalUnit: []string{"payments"}, Organization: []string{"tokenbearer tests"}}
	right := issue(t, ca, certOpts{subject: subject})
	dnsLeaf := ca.hostLeaf(t, "client.example")
	fromOtherCA := issue(t, otherCA, certOpts{subject: subject})
	wrongSubject := issue(t, ca, certOpts{subject: pkix.Name{CommonName: "by-subject", Organization: []string{"tokenbearer tests"}}})
	expiredSigned := issue(t, ca, certOpts{subject: subject, validFor: [2]time.Duration{-2 * time.Hour, -time.Hour}})
	serverOnly := issue(t, ca, certOpts{subject: subject, usage: x509.ExtKeyUsageServerAuth})
	encipherOnly := issue(t, ca, certOpts{subject: subject, keyUsage: x509.KeyUsageKeyEncipherment})
	selfSigned := issue(t, nil, certOpts{subject: pkix.Name{CommonName: "self-signed"}, key: selfKey})
	otherSelfSigned := issue(t, nil, certOpts{subject: pkix.Name{CommonName: "self-signed"}})
	expiredSelfSigned := issue(t, nil, certOpts{subject: pkix.Name{CommonName: "self-signed"}, key: selfKey, validFor: [2]time.Duration{-2 * time.Hour, -time.Hour}})
	futureSelfSigned := issue(t, nil, certOpts{subject: pkix.Name{CommonName: "self-signed"}, key: selfKey, validFor: [2]time.Duration{time.Hour, 2 * time.Hour}})

	good := form("grant_type", "client_credentials")
	as := func(id string) string { return good + "&" + form("client_id", id) }
	tests := []struct {
		name       string
		cert       *tls.Certificate
		body       string
		basic      *[2]string
		wantStatus int
		wantCnf    bool   // the token's cnf is the presented certificate's
		wantReason string // logged for a 401
	}{
		{"tls_client_auth by subject DN", &right, as("by-subject"), nil, 200, true, ""},
		{"tls_client_auth by SAN DNS (a dev-cert leaf)", &dnsLeaf, as("by-dns"), nil, 200, true, ""},
		{"certificate of another CA", &fromOtherCA, as("by-subject"), nil, 401, false, "certificate not issued by a --client-ca authority"},
		{"CA-signed, wrong subject", &wrongSubject, as("by-subject"), nil, 401, false, "certificate does not carry the registered name"},
		{"CA-signed, another client's name", &dnsLeaf, as("by-subject"), nil, 401, false, "certificate does not carry the registered name"},
		{"CA-signed, expired", &expiredSigned, as("by-subject"), nil, 401, false, "certificate expired or not yet valid"},
		{"CA-signed for servers only", &serverOnly, as("by-subject"), nil, 401, false, "certificate not issued by a --client-ca authority"},
		{"CA-signed, key not for signatures", &encipherOnly, as("by-subject"), nil, 401, false, "certificate not issued by a --client-ca authority"},
		{"tls_client_auth without a certificate", nil, as("by-subject"), nil, 401, false, "no client certificate"},
		{"tls_client_auth and a secret (post)", &right, as("by-subject") + "&client_secret=secret", nil, 401, false, "client_secret_post not registered for this client"},
		{"tls_client_auth and a secret (basic)", &right, good, &[2]string{"by-subject", "secret"}, 401, false, "client_secret_basic not registered for this client"},
		{"right certificate without client_id", &right, good, nil, 401, false, "no client_id"},
		{"a certificate and an unknown client_id", &right, as("nobody"), nil, 401, false, "unknown client"},
		{"self-signed, registered key", &selfSigned, as("self-signed"), nil, 200, true, ""},
		{"self-signed, another key", &otherSelfSigned, as("self-signed"), nil, 401, false, "certificate key not registered"},
		{"self-signed, expired", &expiredSelfSigned, as("self-signed"), nil, 401, false, "certificate expired or not yet valid"},
		{"self-signed, not yet valid", &futureSelfSigned, as("self-signed"), nil, 401, false, "certificate expired or not yet valid"},
		{"self-signed without a certificate", nil, as("self-signed"), nil, 401, false, "no client certificate"},
		{"self-signed key for a tls_client_auth client", &selfSigned, as("by-subject"), nil, 401, false, "certificate not issued by a --client-ca authority"},
		{"CA-signed for the self-signed client", &right, as("self-signed"), nil, 401, false, "certificate key not registered"},
		{"secret client, no certificate", nil, good + "&client_id=ApiClient&client_secret=secret", nil, 200, false, ""},
		{"secret client with a certificate (post)", &right, good + "&client_id=ApiClient&client_secret=secret", nil, 200, false, ""},
		{"secret client with a certificate (basic)", &selfSigned, good, &[2]string{"ApiClient", "secret"}, 200, false, ""},
		{"secret client, certificate, no secret", &right, as("ApiClient"), nil, 401, false, "tls_client_auth not registered for this client"},
		{"secret client, wrong secret, a certificate", &right, good + "&client_id=ApiClient&client_secret=wrong", nil, 401, false, "wrong secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := srv.post(t, tt.cert, tt.body, tt.basic)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tt.wantStatus)
			}
			wantNoStore(t, resp)
			if tt.wantStatus == 401 {
				if string(body) != invalidClientBody {
					t.Errorf("got body %s, want the one invalid_client body %s", body, invalidClientBody)
				}
				if got := lastFailureReason(t, srv.logs.String()); got != tt.wantReason {
					t.Errorf("got reason %q, want %q", got, tt.wantReason)
				}
				if www := resp.Header.Get("WWW-Authenticate"); (www != "") != (tt.basic != nil) {
					t.Errorf("got WWW-Authenticate %q with basic %v", www, tt.basic != nil)
				}
				return
			}
			claims := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(decodeJSON(t, body)["access_token"].(string), claims); err != nil {
				t.Fatal(err)
			}
			cnf, has := claims["cnf"]
			switch {
			case tt.wantCnf && !reflect.DeepEqual(cnf, map[string]any{"x5t#S256": x5tS256(*tt.cert)}):
				t.Errorf("got cnf %v, want x5t#S256 %s", cnf, x5tS256(*tt.cert))
			case !tt.wantCnf && has:
				t.Errorf("got cnf %v for a secret client, want none", cnf)
			}
		})
	}
}

// TestCertificateFailuresSpendTheAddressOnly: a wrong certificate is a
// failure the caller's address pays for, but not the client_id: a private key
// cannot be guessed, and a per-client budget would let anyone who knows the
// id lock the client out with certificates of their own.
func TestCertificateFailuresSpendTheAddressOnly(t *testing.T) {
	ca := newTestCA(t)
	selfKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	reg, err := registry.Parse([]byte(mtlsConfigYAML(t, selfKey.Public())))
	if err != nil {
		t.Fatal(err)
	}
	tight := throttle.Limit{PerMinute: 1, Burst: 1}
	subject := pkix.Name{CommonName: "by-subject", OrganizationalUnit: []string{"payments"}, Organization: []string{"tokenbearer tests"}}
	right, wrong := issue(t, ca, certOpts{subject: subject}), issue(t, ca, certOpts{subject: pkix.Name{CommonName: "x"}})
	self, otherSelf := issue(t, nil, certOpts{key: selfKey}), issue(t, nil, certOpts{})
	body := func(id string) string { return form("grant_type", "client_credentials", "client_id", id) }
	for _, tt := range []struct {
		id         string
		right, bad tls.Certificate
	}{{"by-subject", right, wrong}, {"self-signed", self, otherSelf}} {
		t.Run(tt.id+", tight client budget", func(t *testing.T) {
			srv := newMTLSServer(t, reg, clientTLS{on: true, roots: ca.pool()}, newAuthThrottle(tight, lenient, time.Now))
			for range 3 {
				if resp, b := srv.post(t, &tt.bad, body(tt.id), nil); resp.StatusCode != 401 {
					t.Fatalf("wrong certificate: got %d %s, want 401", resp.StatusCode, b)
				}
			}
			if resp, b := srv.post(t, &tt.right, body(tt.id), nil); resp.StatusCode != 200 {
				t.Errorf("right certificate after others' wrong ones: got %d %s, want 200 (the client_id is not locked)", resp.StatusCode, b)
			}
		})
		t.Run(tt.id+", tight address budget", func(t *testing.T) {
			srv := newMTLSServer(t, reg, clientTLS{on: true, roots: ca.pool()}, newAuthThrottle(lenient, tight, time.Now))
			if resp, b := srv.post(t, &tt.right, body(tt.id), nil); resp.StatusCode != 200 {
				t.Fatalf("right certificate: got %d %s, want 200 (successes spend nothing)", resp.StatusCode, b)
			}
			if resp, b := srv.post(t, &tt.bad, body(tt.id), nil); resp.StatusCode != 401 {
				t.Fatalf("wrong certificate: got %d %s, want 401", resp.StatusCode, b)
			}
			resp, b := srv.post(t, &tt.right, body(tt.id), nil)
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
				t.Errorf("from the address that failed, with a budget of 1: got %d %s, want 429 with Retry-After", resp.StatusCode, b)
			}
		})
	}
}

// TestDiscoveryOverTLS: the certificate methods and certificate-bound tokens
// are advertised only where they can work.
func TestDiscoveryOverTLS(t *testing.T) {
	ca := newTestCA(t)
	secretOnly := []any{"client_secret_basic", "client_secret_post"}
	tests := []struct {
		name        string
		ctls        clientTLS
		wantMethods []any
		wantBound   any // nil: absent
	}{
		{"plain HTTP", clientTLS{}, secretOnly, nil},
		{"TLS with --client-ca", clientTLS{on: true, roots: ca.pool()},
			[]any{"client_secret_basic", "client_secret_post", "tls_client_auth", "self_signed_tls_client_auth"}, true},
		{"TLS without --client-ca", clientTLS{on: true},
			[]any{"client_secret_basic", "client_secret_post", "self_signed_tls_client_auth"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newMTLSServer(t, testRegistry(t), tt.ctls, newAuthThrottle(lenient, lenient, time.Now))
			_, body := answer(t)(srv.Client().Get(srv.URL + "/.well-known/openid-configuration"))
			doc := decodeJSON(t, body)
			if got := doc["token_endpoint_auth_methods_supported"]; !reflect.DeepEqual(got, tt.wantMethods) {
				t.Errorf("got token_endpoint_auth_methods_supported %v, want %v", got, tt.wantMethods)
			}
			if got, has := doc["tls_client_certificate_bound_access_tokens"]; got != tt.wantBound || has != (tt.wantBound != nil) {
				t.Errorf("got tls_client_certificate_bound_access_tokens %v (present %v), want %v", got, has, tt.wantBound)
			}
			if _, has := doc["mtls_endpoint_aliases"]; has {
				t.Errorf("got mtls_endpoint_aliases, want none: the same endpoints serve both")
			}
			for k := range doc {
				if !slices.Contains([]string{"issuer", "jwks_uri", "token_endpoint", "grant_types_supported",
					"token_endpoint_auth_methods_supported", "scopes_supported", "tls_client_certificate_bound_access_tokens"}, k) {
					t.Errorf("unexpected member %s", k)
				}
			}
		})
	}
}

// TestRunAuthenticatesByCertificate: the real run, with a dev-cert pair and
// its CA as --client-ca, requests a client certificate on the handshake and
// issues a certificate-bound token to a tls_client_auth client and a
// self-signed one, as curl --cert would ask for them.
func TestRunAuthenticatesByCertificate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	if err := run(ctx, []string{"authserver", "dev-cert", "--out", dir}, envFrom(nil), io.Discard, io.Discard); err != nil {
		t.Fatalf("dev-cert: %v", err)
	}
	ca, _, err := devca.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	selfKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	config := filepath.Join(dir, "clients.yaml")
	if err := os.WriteFile(config, []byte(mtlsConfigYAML(t, selfKey.Public())), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, logs, done := startRun(t, ctx, []string{"--addr", "127.0.0.1:0", "--key-file", filepath.Join(dir, "key.jwk"),
		"--tls-cert", filepath.Join(dir, devca.LeafCertFile), "--tls-key", filepath.Join(dir, devca.LeafKeyFile),
		"--client-ca", filepath.Join(dir, devca.CACertFile), "--config", config})
	if !strings.Contains(logs.String(), "client_ca="+filepath.Join(dir, devca.CACertFile)) {
		t.Errorf("the config line does not name the client CA:\n%s", logs)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	tc := &testCA{CA: ca}
	for _, tt := range []struct {
		id   string
		cert tls.Certificate
	}{
		{"by-dns", tc.hostLeaf(t, "client.example")},
		{"self-signed", issue(t, nil, certOpts{key: selfKey})},
	} {
		t.Run(tt.id, func(t *testing.T) {
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{tt.cert}}}}
			resp, body := answer(t)(client.PostForm("https://"+addr+"/connect/token",
				map[string][]string{"grant_type": {"client_credentials"}, "client_id": {tt.id}}))
			if resp.StatusCode != 200 {
				t.Fatalf("got %d %s, want 200", resp.StatusCode, body)
			}
			claims := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(decodeJSON(t, body)["access_token"].(string), claims); err != nil {
				t.Fatal(err)
			}
			if want := map[string]any{"x5t#S256": x5tS256(tt.cert)}; !reflect.DeepEqual(claims["cnf"], want) {
				t.Errorf("got cnf %v, want %v", claims["cnf"], want)
			}
		})
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

// TestRunRefusesCertificateClientsItCannotServe: a --client-ca that holds
// no CA, and certificate clients on a server where they could never
// authenticate, stop the server at start with a reason.
func TestRunRefusesCertificateClientsItCannotServe(t *testing.T) {
	dir := t.TempDir()
	if err := run(context.Background(), []string{"authserver", "dev-cert", "--out", dir}, envFrom(nil), io.Discard, io.Discard); err != nil {
		t.Fatalf("dev-cert: %v", err)
	}
	selfKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	certClients := filepath.Join(dir, "clients.yaml")
	os.WriteFile(certClients, []byte(mtlsConfigYAML(t, selfKey.Public())), 0o600)
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, []byte("not PEM\n"), 0o600)
	tlsPair := []string{"--tls-cert", filepath.Join(dir, devca.LeafCertFile), "--tls-key", filepath.Join(dir, devca.LeafKeyFile)}
	base := []string{"--addr", "127.0.0.1:0", "--key-file", filepath.Join(dir, "k.jwk")}
	tests := []struct {
		name    string
		args    []string
		wantErr []string
	}{
		{"a leaf as the client CA", append(slices.Clone(tlsPair), "--client-ca", filepath.Join(dir, devca.LeafCertFile)),
			[]string{"client-ca", "certificate 1 (CN=localhost,O=tokenbearer development) is not a CA certificate"}},
		{"a key as the client CA", append(slices.Clone(tlsPair), "--client-ca", filepath.Join(dir, devca.LeafKeyFile)),
			[]string{"PEM block 1 is a PRIVATE KEY, want CERTIFICATE"}},
		{"no PEM in the client CA", append(slices.Clone(tlsPair), "--client-ca", empty), []string{"no PEM certificates"}},
		{"missing client CA", append(slices.Clone(tlsPair), "--client-ca", filepath.Join(dir, "none.crt")), []string{"client-ca: reading"}},
		{"certificate clients over plain HTTP", []string{"--config", certClients},
			[]string{"clients [by-dns by-subject] use tls_client_auth, which needs --tls-cert", "clients [self-signed] use self_signed_tls_client_auth, which needs --tls-cert"}},
		{"tls_client_auth clients without --client-ca", append(slices.Clone(tlsPair), "--config", certClients),
			[]string{"clients [by-dns by-subject] use tls_client_auth, which needs --client-ca"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), append(append([]string{"authserver"}, base...), tt.args...), envFrom(nil), io.Discard, io.Discard)
			for _, want := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("got error %v, want one containing %q", err, want)
				}
			}
		})
	}
}

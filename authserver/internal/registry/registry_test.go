package registry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tokenbearer/authserver/internal/keystore"
	"github.com/tokenbearer/authserver/internal/secret"
)

const goodHash = "sha256:K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=" // "secret"

func TestDemoIsTheArticlesConfiguration(t *testing.T) {
	r, err := Demo()
	if err != nil {
		t.Fatalf("Demo: %v", err)
	}
	c, ok := r.Client("ApiClient")
	if !ok {
		t.Fatal("demo has no client ApiClient")
	}
	if len(c.Secrets) != 1 || !secret.MatchesAny(c.Secrets, "secret") {
		t.Error(`ApiClient secret is not "secret"`)
	}
	if !slices.Equal(c.AllowedGrantTypes, []string{"client_credentials"}) {
		t.Errorf("grant types = %v, want [client_credentials]", c.AllowedGrantTypes)
	}
	if !slices.Equal(c.AllowedScopes, []string{"auth.web.api"}) {
		t.Errorf("scopes = %v, want [auth.web.api]", c.AllowedScopes)
	}
	if got := r.Scopes(); !slices.Equal(got, []string{"auth.web.api"}) {
		t.Errorf("Scopes() = %v, want [auth.web.api]", got)
	}
	if got := r.Audience([]string{"auth.web.api"}); !slices.Equal(got, []string{"auth.web.api"}) {
		t.Errorf("Audience = %v, want [auth.web.api]", got)
	}
	if got := r.ClientIDs(); !slices.Equal(got, []string{"ApiClient"}) {
		t.Errorf("ClientIDs() = %v", got)
	}
}

func TestAudienceAndScopes(t *testing.T) {
	r, err := Parse([]byte(`
apiResources:
  - name: a
    scopes: [a.read, shared]
  - name: b
    scopes: [b.read, shared]
clients:
  - clientId: c
    clientSecrets: ["` + goodHash + `"]
    allowedGrantTypes: [client_credentials]
    allowedScopes: [a.read, b.read]
`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Scopes(), []string{"a.read", "shared", "b.read"}; !slices.Equal(got, want) {
		t.Errorf("Scopes() = %v, want %v", got, want)
	}
	tests := []struct {
		scopes []string
		want   []string
	}{
		{[]string{"a.read"}, []string{"a"}},
		{[]string{"b.read", "a.read"}, []string{"a", "b"}},
		{[]string{"shared"}, []string{"a", "b"}},
		{[]string{"nope"}, nil},
	}
	for _, tt := range tests {
		if got := r.Audience(tt.scopes); !slices.Equal(got, tt.want) {
			t.Errorf("Audience(%v) = %v, want %v", tt.scopes, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	const resources = "apiResources:\n  - name: api\n    scopes: [api]\n"
	client := func(body string) string {
		return resources + "clients:\n  - clientId: c\n" + body
	}
	const okClient = "    clientSecrets: [\"" + goodHash + "\"]\n    allowedGrantTypes: [client_credentials]\n    allowedScopes: [api]\n"
	const grantsAndScopes = "    allowedGrantTypes: [client_credentials]\n    allowedScopes: [api]\n"
	tlsClient := func(fields string) string {
		return client("    tokenEndpointAuthMethod: tls_client_auth\n" + fields + grantsAndScopes)
	}
	selfSigned := func(fields string) string {
		return client("    tokenEndpointAuthMethod: self_signed_tls_client_auth\n" + fields + grantsAndScopes)
	}
	jwk := ecJWK(t)
	tests := []struct {
		name string
		yaml string
		want []string // every substring must be in the error
	}{
		{"empty", "", []string{"config is empty"}},
		{"comment only", "# nothing\n", []string{"config is empty"}},
		{"not yaml", "{[", []string{"decoding yaml"}},
		{"unknown top-level key", resources + "extra: 1\n", []string{`line 4: unknown key "extra" (valid keys: apiResources, clients)`}},
		{"unknown client key", client(okClient + "    redirectUris: [x]\n"), []string{`line 9: clients[0]: unknown key "redirectUris" (valid keys: clientId, tokenEndpointAuthMethod, clientSecrets, tlsClientAuthSubjectDN, tlsClientAuthSanDNS, tlsClientAuthSanURI, tlsClientAuthSanIP, tlsClientAuthSanEmail, jwks, allowedGrantTypes, allowedScopes)`}},
		{"misspelled allowedScopes", client("    clientSecrets: [\"" + goodHash + "\"]\n    allowedGrantTypes: [client_credentials]\n    allowedScope: [api]\n"),
			[]string{`line 8: clients[0]: unknown key "allowedScope" (valid keys: clientId, tokenEndpointAuthMethod, clientSecrets, tlsClientAuthSubjectDN, tlsClientAuthSanDNS, tlsClientAuthSanURI, tlsClientAuthSanIP, tlsClientAuthSanEmail, jwks, allowedGrantTypes, allowedScopes)`}},
		{"unknown resource key", "apiResources:\n  - name: api\n    scope: [api]\nclients: []\n", []string{`line 3: apiResources[0]: unknown key "scope" (valid keys: name, scopes)`}},
		{"every unknown key at once", "apiResources:\n  - name: api\n    scopes: [api]\n  - nam: b\nclients:\n  - clientID: c\nextra: 1\n",
			[]string{`line 4: apiResources[1]: unknown key "nam"`, `line 6: clients[0]: unknown key "clientID"`, `line 7: unknown key "extra"`}},
		{"unknown key in a merged mapping", client(okClient + "    <<: {bogus: 1}\n"), []string{"bogus"}},
		{"two documents", client(okClient) + "---\n" + client(okClient), []string{"single yaml document"}},
		{"no resources, no clients", "{}\n", []string{"no apiResources", "no clients"}},
		{"resource without name", "apiResources:\n  - scopes: [x]\n" + "clients: []\n", []string{"apiResources[0]: empty name"}},
		{"resource without scopes", "apiResources:\n  - name: api\n" + "clients: []\n", []string{`"api": no scopes`}},
		{"duplicate resource", resources + "  - name: api\n    scopes: [other]\nclients: []\n", []string{`duplicate name "api"`}},
		{"scope repeated in one resource", "apiResources:\n  - name: api\n    scopes: [api, other, api]\nclients: []\n", []string{`apiResources[0] "api": duplicate scope "api"`}},
		{"scope with space", "apiResources:\n  - name: api\n    scopes: [\"a b\"]\nclients: []\n", []string{"not allowed by RFC 6749"}},
		{"duplicate client", client(okClient) + "  - clientId: c\n" + okClient, []string{"clients[1] \"c\": duplicate clientId"}},
		{"empty client id", resources + "clients:\n  - clientId: \"\"\n" + okClient, []string{"clients[0]: empty clientId"}},
		{"client id over 100 bytes", resources + "clients:\n  - clientId: " + strings.Repeat("x", 101) + "\n" + okClient, []string{"clientId must be at most 100 bytes"}},
		{"client id with a control character", resources + "clients:\n  - clientId: \"a\\tb\"\n" + okClient, []string{"without control characters"}},
		{"no secrets", client("    allowedGrantTypes: [client_credentials]\n    allowedScopes: [api]\n"), []string{"no clientSecrets"}},
		{"plain secret", client("    clientSecrets: [secret]\n    allowedGrantTypes: [client_credentials]\n    allowedScopes: [api]\n"), []string{"clientSecrets[0] is not a hash", `must start with "sha256:"`, "paste the sha256: line printed by `authserver hash-secret`"}},
		{"truncated hash", client("    clientSecrets: [\"sha256:K7gNU3sdo+OL0wNh\"]\n    allowedGrantTypes: [client_credentials]\n    allowedScopes: [api]\n"), []string{"clientSecrets[0]", "want 32"}},
		{"unsupported grant", client("    clientSecrets: [\"" + goodHash + "\"]\n    allowedGrantTypes: [password]\n    allowedScopes: [api]\n"), []string{`unsupported grant type "password"`}},
		{"duplicate grant", client("    clientSecrets: [\"" + goodHash + "\"]\n    allowedGrantTypes: [client_credentials, client_credentials]\n    allowedScopes: [api]\n"), []string{"duplicate allowedGrantTypes"}},
		{"unknown scope", client("    clientSecrets: [\"" + goodHash + "\"]\n    allowedGrantTypes: [client_credentials]\n    allowedScopes: [api, nope]\n"), []string{`allowed scope "nope" is not a scope of any apiResource`}},
		{"no scopes", client("    clientSecrets: [\"" + goodHash + "\"]\n    allowedGrantTypes: [client_credentials]\n"), []string{"no allowedScopes"}},
		{"unknown auth method", client("    tokenEndpointAuthMethod: private_key_jwt\n" + okClient),
			[]string{`unknown tokenEndpointAuthMethod "private_key_jwt" (supported: client_secret_basic, client_secret_post, tls_client_auth, self_signed_tls_client_auth)`}},
		{"tls client with secrets", tlsClient("    tlsClientAuthSanDNS: client.example\n    clientSecrets: [\"" + goodHash + "\"]\n"),
			[]string{"a tls_client_auth client has no clientSecrets"}},
		{"tls client without a name", tlsClient(""), []string{"needs exactly one of tlsClientAuthSubjectDN, tlsClientAuthSanDNS, tlsClientAuthSanURI, tlsClientAuthSanIP, tlsClientAuthSanEmail; got 0"}},
		{"tls client with two SAN fields", tlsClient("    tlsClientAuthSanDNS: client.example\n    tlsClientAuthSanIP: 192.0.2.7\n"), []string{"needs exactly one", "got 2"}},
		{"tls client with a subject and a SAN", tlsClient("    tlsClientAuthSubjectDN: CN=client\n    tlsClientAuthSanURI: spiffe://example.org/client\n"), []string{"got 2"}},
		{"tls client with jwks", tlsClient("    tlsClientAuthSanDNS: client.example\n    jwks: [" + jwk + "]\n"), []string{"jwks is for tokenEndpointAuthMethod: self_signed_tls_client_auth clients only"}},
		{"bad subject DN", tlsClient("    tlsClientAuthSubjectDN: client-1\n"), []string{"tlsClientAuthSubjectDN: not an RFC 4514 distinguished name"}},
		{"bad SAN IP", tlsClient("    tlsClientAuthSanIP: 192.0.2.300\n"), []string{`tlsClientAuthSanIP: "192.0.2.300" is not an IP address`}},
		{"relative SAN URI", tlsClient("    tlsClientAuthSanURI: /client\n"), []string{"is not an absolute URI"}},
		{"SAN email without @", tlsClient("    tlsClientAuthSanEmail: client.example\n"), []string{"is not an email address"}},
		{"SAN DNS with a scheme", tlsClient("    tlsClientAuthSanDNS: https://client.example\n"), []string{"is not a DNS name"}},
		{"secret client with a TLS field", client("    tlsClientAuthSanDNS: client.example\n" + okClient), []string{"tlsClientAuthSanDNS is for tokenEndpointAuthMethod: tls_client_auth clients only"}},
		{"secret client with jwks", client("    jwks: [" + jwk + "]\n" + okClient), []string{"jwks is for tokenEndpointAuthMethod: self_signed_tls_client_auth clients only"}},
		{"self-signed client without jwks", selfSigned(""), []string{"a self_signed_tls_client_auth client needs jwks"}},
		{"self-signed client with secrets", selfSigned("    jwks: [" + jwk + "]\n    clientSecrets: [\"" + goodHash + "\"]\n"), []string{"a self_signed_tls_client_auth client has no clientSecrets"}},
		{"self-signed client with a SAN", selfSigned("    jwks: [" + jwk + "]\n    tlsClientAuthSanDNS: client.example\n"), []string{"tlsClientAuthSanDNS is for tokenEndpointAuthMethod: tls_client_auth clients only"}},
		{"jwk off the curve", selfSigned("    jwks: [{kty: EC, crv: P-256, x: " + strings.Repeat("A", 43) + ", y: " + strings.Repeat("A", 43) + "}]\n"), []string{"jwks[0]: jwk:"}},
		{"jwk of a symmetric key", selfSigned("    jwks: [{kty: oct}]\n"), []string{`jwks[0]: jwk kty "oct" is not RSA, EC or OKP`}},
		{"private jwk", selfSigned("    jwks: [{kty: EC, crv: P-256, x: a, y: b, d: c}]\n"), []string{`line 7: clients[0].jwks[0]: unknown key "d" (valid keys: kty, crv, x, y, n, e, kid, use, alg)`}},
		{"all problems at once", client("    clientSecrets: [plain]\n    allowedGrantTypes: [implicit]\n    allowedScopes: [nope]\n"), []string{"clientSecrets[0]", `"implicit"`, `"nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded, want error containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// ecJWK is a fresh P-256 public JWK as a YAML flow mapping.
func ecJWK(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	j, err := keystore.JWKOf(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("{kty: %s, crv: %s, x: %s, y: %s}", j.KeyType, j.Curve, j.X, j.Y)
}

// TestParseCertificateClients: each kind of client gets the methods and the
// proof its configuration names, and a client without tokenEndpointAuthMethod
// keeps both secret methods.
func TestParseCertificateClients(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := keystore.JWKOf(key.Public())
	r, err := Parse([]byte(`
apiResources:
  - name: api
    scopes: [api]
clients:
  - clientId: secret-client
    clientSecrets: ["` + goodHash + `"]
    allowedGrantTypes: [client_credentials]
    allowedScopes: [api]
  - clientId: post-only
    tokenEndpointAuthMethod: client_secret_post
    clientSecrets: ["` + goodHash + `"]
    allowedGrantTypes: [client_credentials]
    allowedScopes: [api]
  - clientId: by-subject
    tokenEndpointAuthMethod: tls_client_auth
    tlsClientAuthSubjectDN: 'CN=by-subject, O=Acme\, Inc.'
    allowedGrantTypes: [client_credentials]
    allowedScopes: [api]
  - clientId: by-dns
    tokenEndpointAuthMethod: tls_client_auth
    tlsClientAuthSanDNS: Client.Example
    allowedGrantTypes: [client_credentials]
    allowedScopes: [api]
  - clientId: by-ip
    tokenEndpointAuthMethod: tls_client_auth
    tlsClientAuthSanIP: "::ffff:192.0.2.7"
    allowedGrantTypes: [client_credentials]
    allowedScopes: [api]
  - clientId: self-signed
    tokenEndpointAuthMethod: self_signed_tls_client_auth
    jwks:
      - {"kty": "EC", "crv": "P-256", "x": "` + j.X + `", "y": "` + j.Y + `", "kid": "k1", "use": "sig"}
    allowedGrantTypes: [client_credentials]
    allowedScopes: [api]
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		id      string
		methods []string
	}{
		{"secret-client", []string{AuthSecretBasic, AuthSecretPost}},
		{"post-only", []string{AuthSecretPost}},
		{"by-subject", []string{AuthTLS}},
		{"self-signed", []string{AuthSelfSignedTLS}},
	} {
		if c, _ := r.Client(tt.id); !slices.Equal(c.AuthMethods, tt.methods) {
			t.Errorf("%s: got methods %v, want %v", tt.id, c.AuthMethods, tt.methods)
		}
	}
	if got := r.ClientsUsing(AuthTLS); !slices.Equal(got, []string{"by-dns", "by-ip", "by-subject"}) {
		t.Errorf("ClientsUsing(tls_client_auth): got %v", got)
	}
	c, _ := r.Client("by-subject")
	if c.Certificate == nil || c.Certificate.SubjectDN.String() != `CN=by-subject,O=Acme\, Inc.` || len(c.Secrets) != 0 {
		t.Errorf("by-subject: got %+v, want subject CN=by-subject,O=Acme\\, Inc. and no secrets", c.Certificate)
	}
	if c, _ := r.Client("by-dns"); c.Certificate == nil || c.Certificate.DNS != "client.example" {
		t.Errorf("by-dns: got %+v, want DNS client.example (lower case)", c.Certificate)
	}
	if c, _ := r.Client("by-ip"); c.Certificate == nil || c.Certificate.IP != netip.MustParseAddr("192.0.2.7") {
		t.Errorf("by-ip: got %+v, want IP 192.0.2.7 (unmapped)", c.Certificate)
	}
	if c, _ := r.Client("self-signed"); len(c.Keys) != 1 || !key.PublicKey.Equal(c.Keys[0]) {
		t.Errorf("self-signed: got keys %v, want the registered one", c.Keys)
	}
}

// TestPlainSecretIsNotRepeated: the error for a secret pasted where its
// hash belongs must not repeat it, since errors are logged.
func TestPlainSecretIsNotRepeated(t *testing.T) {
	const plain = "s3cr3t-pasted-by-mistake"
	_, err := Parse([]byte("apiResources:\n  - name: api\n    scopes: [api]\nclients:\n  - clientId: c\n    clientSecrets: [" + plain + "]\n    allowedScopes: [api]\n"))
	if err == nil {
		t.Fatal("Parse succeeded with a plain secret")
	}
	if strings.Contains(err.Error(), plain) {
		t.Errorf("got error %q, want one without the secret", err)
	}
}

// TestMergeKeysAreNotUnknown: YAML merge keys ("<<: *anchor") are part of
// the format, not a key of ours. (What they merge is still checked: see
// "unknown key in a merged mapping" in TestParseErrors.)
func TestMergeKeysAreNotUnknown(t *testing.T) {
	const config = "apiResources:\n  - name: api\n    scopes: [api]\nclients:\n" +
		"  - &base\n    clientId: a\n    clientSecrets: [\"" + goodHash + "\"]\n    allowedGrantTypes: [client_credentials]\n    allowedScopes: [api]\n" +
		"  - <<: *base\n    clientId: b\n"
	r, err := Parse([]byte(config))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := r.ClientIDs(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("got clients %v, want [a b]", got)
	}
}

func TestEmptyGrantTypesIsAllowed(t *testing.T) {
	r, err := Parse([]byte("apiResources:\n  - name: api\n    scopes: [api]\nclients:\n  - clientId: c\n    clientSecrets: [\"" + goodHash + "\"]\n    allowedGrantTypes: []\n    allowedScopes: [api]\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	c, _ := r.Client("c")
	if c.AllowsGrant(GrantClientCredentials) {
		t.Error("client with no grant types allows client_credentials")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "clients.yaml")
	if err := os.WriteFile(good, demoYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(good); err != nil {
		t.Fatalf("Load(%s): %v", good, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("clients: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Load(bad) error = %v, want one naming the file", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("Load(missing) succeeded")
	}
}

func TestValidScopeToken(t *testing.T) {
	for s, want := range map[string]bool{
		"auth.web.api": true, "a:b/c": true, "!": true, "~": true,
		"": false, "a b": false, `a"b`: false, `a\b`: false, "a\tb": false, "é": false,
	} {
		if got := validScopeToken(s); got != want {
			t.Errorf("validScopeToken(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestValidCredential(t *testing.T) {
	for s, want := range map[string]bool{
		"ApiClient": true, "odd id:é+ %&=?": true, strings.Repeat("x", 100): true,
		"": false, strings.Repeat("x", 101): false, "a\x00b": false, "a\tb": false, "a\x7fb": false,
		"a\u0085b": false, "\xff": false, "a\xc3": false,
	} {
		if got := ValidCredential(s); got != want {
			t.Errorf("ValidCredential(%q) = %v, want %v", s, got, want)
		}
	}
}

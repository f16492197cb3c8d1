// Package registry holds the clients and API resources the server knows,
// loaded from YAML and validated as a whole before use.
package registry

import (
	"bytes"
	"crypto"
	"crypto/x509/pkix"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tokenbearer/authserver/internal/dn"
	"github.com/tokenbearer/authserver/internal/keystore"
	"github.com/tokenbearer/authserver/internal/secret"
	"go.yaml.in/yaml/v3"
)

// GrantClientCredentials is the only grant type the server implements.
const GrantClientCredentials = "client_credentials"

// SupportedGrantTypes lists the grant types clients may be configured with.
var SupportedGrantTypes = []string{GrantClientCredentials}

// Client authentication methods (RFC 7591 token_endpoint_auth_method, RFC 8705 2).
const (
	AuthSecretBasic = "client_secret_basic"
	AuthSecretPost  = "client_secret_post"
	// AuthTLS is PKI mutual TLS (RFC 8705 2.1): a certificate chaining to
	// one of the --client-ca authorities and carrying the registered name.
	AuthTLS = "tls_client_auth"
	// AuthSelfSignedTLS is RFC 8705 2.2: a certificate whose public key is
	// one of the client's registered jwks.
	AuthSelfSignedTLS = "self_signed_tls_client_auth"
)

// SupportedAuthMethods lists the tokenEndpointAuthMethod values.
var SupportedAuthMethods = []string{AuthSecretBasic, AuthSecretPost, AuthTLS, AuthSelfSignedTLS}

// defaultAuthMethods are a client's when its configuration names none: either
// way of sending its secret.
var defaultAuthMethods = []string{AuthSecretBasic, AuthSecretPost}

//go:embed demo.yaml
var demoYAML []byte

// file is the YAML document shape.
type file struct {
	APIResources []APIResource `yaml:"apiResources"`
	Clients      []clientFile  `yaml:"clients"`
}

type clientFile struct {
	ClientID string `yaml:"clientId"`
	// TokenEndpointAuthMethod is one of SupportedAuthMethods; empty allows
	// both secret methods.
	TokenEndpointAuthMethod string   `yaml:"tokenEndpointAuthMethod"`
	ClientSecrets           []string `yaml:"clientSecrets"`
	// The RFC 8705 2.1.2 metadata of a tls_client_auth client: exactly one.
	TLSClientAuthSubjectDN string `yaml:"tlsClientAuthSubjectDN"`
	TLSClientAuthSanDNS    string `yaml:"tlsClientAuthSanDNS"`
	TLSClientAuthSanURI    string `yaml:"tlsClientAuthSanURI"`
	TLSClientAuthSanIP     string `yaml:"tlsClientAuthSanIP"`
	TLSClientAuthSanEmail  string `yaml:"tlsClientAuthSanEmail"`
	// JWKS are a self_signed_tls_client_auth client's public keys.
	JWKS              []jwkFile `yaml:"jwks"`
	AllowedGrantTypes []string  `yaml:"allowedGrantTypes"`
	AllowedScopes     []string  `yaml:"allowedScopes"`
}

// jwkFile is a public JWK (RFC 7517) as a YAML (or JSON) mapping. It has no
// private members, so a pasted private key is refused as an unknown key.
type jwkFile struct {
	KeyType   string `yaml:"kty"`
	Curve     string `yaml:"crv"`
	X         string `yaml:"x"`
	Y         string `yaml:"y"`
	N         string `yaml:"n"`
	E         string `yaml:"e"`
	KeyID     string `yaml:"kid"`
	Use       string `yaml:"use"`
	Algorithm string `yaml:"alg"`
}

// APIResource is a protected API; its name becomes the token audience for
// any of its scopes.
type APIResource struct {
	Name   string   `yaml:"name"`
	Scopes []string `yaml:"scopes"`
}

// Client is a registered confidential client.
type Client struct {
	ID string
	// AuthMethods are the client authentication methods it may use.
	AuthMethods []string
	Secrets     []secret.Hash
	// Certificate is the name a tls_client_auth client's certificate must
	// carry; nil for other clients.
	Certificate *CertificateName
	// Keys are a self_signed_tls_client_auth client's public keys, each with
	// an Equal method (*rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey).
	Keys              []crypto.PublicKey
	AllowedGrantTypes []string
	AllowedScopes     []string
}

// CertificateName is the one name a tls_client_auth client is known by
// (RFC 8705 2.1.2): its certificate's subject, or one of its subject
// alternative names. Exactly one field is set.
type CertificateName struct {
	SubjectDN pkix.RDNSequence // in certificate order; compare with dn.Equal
	DNS       string           // lower case
	URI       string
	IP        netip.Addr
	Email     string
}

// AllowsGrant reports whether the client may use grant type gt.
func (c Client) AllowsGrant(gt string) bool { return slices.Contains(c.AllowedGrantTypes, gt) }

// AllowsAuthMethod reports whether the client may authenticate by method m.
func (c Client) AllowsAuthMethod(m string) bool { return slices.Contains(c.AuthMethods, m) }

// AllowsScope reports whether the client may request scope s.
func (c Client) AllowsScope(s string) bool { return slices.Contains(c.AllowedScopes, s) }

// Registry is a validated, read-only set of clients and API resources.
type Registry struct {
	clients   map[string]Client
	resources []APIResource
}

// Demo returns the embedded configuration of the article: API resource
// auth.web.api and client ApiClient with secret "secret".
func Demo() (*Registry, error) {
	r, err := Parse(demoYAML)
	if err != nil {
		return nil, fmt.Errorf("parsing embedded demo config: %w", err)
	}
	return r, nil
}

// Load reads and validates the YAML configuration at path.
func Load(path string) (*Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	r, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return r, nil
}

// Parse decodes one YAML document, rejecting unknown keys, and validates it.
func Parse(data []byte) (*Registry, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("config is empty")
		}
		return nil, fmt.Errorf("decoding yaml: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("config must be a single yaml document")
	}
	// Checked on the node tree first, because KnownFields' error names a Go
	// type ("field x not found in type registry.clientFile") instead of the
	// place in the file and the keys that would have been right.
	if err := errors.Join(unknownKeys(&doc, reflect.TypeFor[file](), "")...); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	// KnownFields stays as the backstop for what unknownKeys does not walk.
	dec = yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decoding yaml: %w", err)
	}
	return build(f)
}

// unknownKeys reports every mapping key under n that t, the Go type n
// decodes into, has no yaml field for. path names n in messages, as in
// "clients[0]"; "" is the top level. Every field of the config types has a
// yaml tag, which is the key. Aliases are not followed: expanding
// them could take exponential time, and their nodes have a line elsewhere.
func unknownKeys(n *yaml.Node, t reflect.Type, path string) []error {
	switch n.Kind {
	case yaml.DocumentNode:
		var errs []error
		for _, c := range n.Content {
			errs = append(errs, unknownKeys(c, t, path)...)
		}
		return errs
	case yaml.SequenceNode:
		if t.Kind() != reflect.Slice {
			return nil // a type mismatch, which decoding reports
		}
		var errs []error
		for i, c := range n.Content {
			errs = append(errs, unknownKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return errs
	case yaml.MappingNode:
		if t.Kind() != reflect.Struct {
			return nil
		}
		fields := map[string]reflect.Type{}
		var valid []string
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			fields[name] = f.Type
			valid = append(valid, name)
		}
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.ShortTag() == "!!merge" {
				continue // "<<: *alias": KnownFields checks what it merges
			}
			ft, ok := fields[k.Value]
			if !ok {
				where := fmt.Sprintf("line %d: ", k.Line)
				if path != "" {
					where += path + ": "
				}
				errs = append(errs, fmt.Errorf("%sunknown key %q (valid keys: %s)", where, k.Value, strings.Join(valid, ", ")))
				continue
			}
			child := k.Value
			if path != "" {
				child = path + "." + k.Value
			}
			errs = append(errs, unknownKeys(v, ft, child)...)
		}
		return errs
	}
	return nil
}

// build validates f and reports every problem found, not just the first.
func build(f file) (*Registry, error) {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if len(f.APIResources) == 0 {
		fail("no apiResources")
	}
	scopes := map[string]bool{}
	names := map[string]bool{}
	for i, res := range f.APIResources {
		switch {
		case res.Name == "":
			fail("apiResources[%d]: empty name", i)
		case names[res.Name]:
			fail("apiResources[%d]: duplicate name %q", i, res.Name)
		}
		names[res.Name] = true
		if len(res.Scopes) == 0 {
			fail("apiResources[%d] %q: no scopes", i, res.Name)
		}
		seen := map[string]bool{}
		for _, s := range res.Scopes {
			if err := checkScopeToken(s); err != nil {
				fail("apiResources[%d] %q: %w", i, res.Name, err)
			}
			if seen[s] {
				fail("apiResources[%d] %q: duplicate scope %q", i, res.Name, s)
			}
			seen[s] = true
			scopes[s] = true
		}
	}

	if len(f.Clients) == 0 {
		fail("no clients")
	}
	clients := make(map[string]Client, len(f.Clients))
	for i, cf := range f.Clients {
		where := fmt.Sprintf("clients[%d] %q", i, cf.ClientID)
		switch {
		case cf.ClientID == "":
			fail("clients[%d]: empty clientId", i)
		case !ValidCredential(cf.ClientID):
			fail("%s: clientId must be at most %d bytes of UTF-8 without control characters", where, MaxCredentialBytes)
		case clients[cf.ClientID].ID != "":
			fail("%s: duplicate clientId", where)
		}
		c := Client{ID: cf.ClientID, AuthMethods: defaultAuthMethods, AllowedGrantTypes: cf.AllowedGrantTypes, AllowedScopes: cf.AllowedScopes}
		errs = append(errs, authentication(&c, cf, where)...)
		// An empty list is allowed: the client stays registered but may not
		// use any grant (the token endpoint answers unauthorized_client).
		for _, gt := range cf.AllowedGrantTypes {
			if !slices.Contains(SupportedGrantTypes, gt) {
				fail("%s: unsupported grant type %q (supported: %v)", where, gt, SupportedGrantTypes)
			}
		}
		if hasDuplicate(cf.AllowedGrantTypes) {
			fail("%s: duplicate allowedGrantTypes", where)
		}
		if len(cf.AllowedScopes) == 0 {
			fail("%s: no allowedScopes", where)
		}
		for _, s := range cf.AllowedScopes {
			if !scopes[s] {
				fail("%s: allowed scope %q is not a scope of any apiResource", where, s)
			}
		}
		if hasDuplicate(cf.AllowedScopes) {
			fail("%s: duplicate allowedScopes", where)
		}
		if cf.ClientID != "" && clients[cf.ClientID].ID == "" {
			clients[cf.ClientID] = c
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	return &Registry{clients: clients, resources: f.APIResources}, nil
}

// authentication fills c's authentication from cf and reports what is wrong
// with it: a client has the proof its method needs and nothing else, so that
// no setting is silently ignored.
func authentication(c *Client, cf clientFile, where string) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(where+": "+format, args...)) }
	method := cf.TokenEndpointAuthMethod
	switch {
	case method == "":
	case slices.Contains(SupportedAuthMethods, method):
		c.AuthMethods = []string{method}
	default:
		return []error{fmt.Errorf("%s: unknown tokenEndpointAuthMethod %q (supported: %s)", where, method, strings.Join(SupportedAuthMethods, ", "))}
	}
	var tlsFields []string
	for _, f := range []struct{ key, value string }{
		{"tlsClientAuthSubjectDN", cf.TLSClientAuthSubjectDN},
		{"tlsClientAuthSanDNS", cf.TLSClientAuthSanDNS},
		{"tlsClientAuthSanURI", cf.TLSClientAuthSanURI},
		{"tlsClientAuthSanIP", cf.TLSClientAuthSanIP},
		{"tlsClientAuthSanEmail", cf.TLSClientAuthSanEmail},
	} {
		if f.value != "" {
			tlsFields = append(tlsFields, f.key)
		}
	}
	usesSecret := method == "" || method == AuthSecretBasic || method == AuthSecretPost
	switch {
	case usesSecret && len(cf.ClientSecrets) == 0:
		fail("no clientSecrets")
	case !usesSecret && len(cf.ClientSecrets) > 0:
		fail("a %s client has no clientSecrets: it authenticates by its certificate alone", method)
	}
	if method != AuthTLS && len(tlsFields) > 0 {
		fail("%s is for tokenEndpointAuthMethod: %s clients only", strings.Join(tlsFields, ", "), AuthTLS)
	}
	if method != AuthSelfSignedTLS && len(cf.JWKS) > 0 {
		fail("jwks is for tokenEndpointAuthMethod: %s clients only", AuthSelfSignedTLS)
	}
	for j, s := range cf.ClientSecrets {
		h, err := secret.Parse(s)
		if err != nil && !strings.HasPrefix(s, "sha256:") {
			// Most likely the secret itself, pasted where its hash belongs.
			// The message must not repeat it: errors end up in logs.
			fail("clientSecrets[%d] is not a hash (%w); a plain secret does not belong here: paste the sha256: line printed by `authserver hash-secret`", j, err)
			continue
		}
		if err != nil {
			fail("clientSecrets[%d]: %w", j, err)
			continue
		}
		c.Secrets = append(c.Secrets, h)
	}
	switch method {
	case AuthTLS:
		if len(tlsFields) != 1 {
			fail("a %s client needs exactly one of tlsClientAuthSubjectDN, tlsClientAuthSanDNS, tlsClientAuthSanURI, tlsClientAuthSanIP, tlsClientAuthSanEmail; got %d", AuthTLS, len(tlsFields))
			break
		}
		name, err := certificateName(cf)
		if err != nil {
			fail("%s: %w", tlsFields[0], err)
			break
		}
		c.Certificate = &name
	case AuthSelfSignedTLS:
		if len(cf.JWKS) == 0 {
			fail("a %s client needs jwks: the public keys of its certificates", AuthSelfSignedTLS)
		}
		for j, k := range cf.JWKS {
			pub, err := keystore.JWK{KeyType: k.KeyType, Curve: k.Curve, X: k.X, Y: k.Y, N: k.N, E: k.E}.PublicKey()
			if err != nil {
				fail("jwks[%d]: %w", j, err)
				continue
			}
			c.Keys = append(c.Keys, pub)
		}
	}
	return errs
}

// certificateName reads the one tlsClientAuth* field of cf.
func certificateName(cf clientFile) (CertificateName, error) {
	switch {
	case cf.TLSClientAuthSubjectDN != "":
		seq, err := dn.Parse(cf.TLSClientAuthSubjectDN)
		if err != nil {
			return CertificateName{}, fmt.Errorf("not an RFC 4514 distinguished name: %w", err)
		}
		return CertificateName{SubjectDN: seq}, nil
	case cf.TLSClientAuthSanDNS != "":
		name := strings.ToLower(cf.TLSClientAuthSanDNS)
		if strings.ContainsAny(name, " /:@") || strings.Trim(name, ".") != name {
			return CertificateName{}, fmt.Errorf("%q is not a DNS name", cf.TLSClientAuthSanDNS)
		}
		return CertificateName{DNS: name}, nil
	case cf.TLSClientAuthSanURI != "":
		u, err := url.Parse(cf.TLSClientAuthSanURI)
		if err != nil || !u.IsAbs() {
			return CertificateName{}, fmt.Errorf("%q is not an absolute URI", cf.TLSClientAuthSanURI)
		}
		return CertificateName{URI: cf.TLSClientAuthSanURI}, nil
	case cf.TLSClientAuthSanIP != "":
		ip, err := netip.ParseAddr(cf.TLSClientAuthSanIP)
		if err != nil || ip.Zone() != "" {
			return CertificateName{}, fmt.Errorf("%q is not an IP address", cf.TLSClientAuthSanIP)
		}
		return CertificateName{IP: ip.Unmap()}, nil
	default:
		local, domain, ok := strings.Cut(cf.TLSClientAuthSanEmail, "@")
		if !ok || local == "" || domain == "" || strings.ContainsAny(cf.TLSClientAuthSanEmail, " <>") {
			return CertificateName{}, fmt.Errorf("%q is not an email address", cf.TLSClientAuthSanEmail)
		}
		return CertificateName{Email: cf.TLSClientAuthSanEmail}, nil
	}
}

// checkScopeToken enforces RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func checkScopeToken(s string) error {
	if s == "" {
		return errors.New("empty scope")
	}
	if !validScopeToken(s) {
		return fmt.Errorf("scope %q has characters not allowed by RFC 6749", s)
	}
	return nil
}

// validScopeToken reports whether s is a non-empty RFC 6749 scope-token.
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

// MaxCredentialBytes bounds client ids and presented secrets, as
// IdentityServer's InputLengthRestrictions do.
const MaxCredentialBytes = 100

// ValidCredential reports whether s can be a client id or a client secret:
// 1 to MaxCredentialBytes bytes of UTF-8 without control characters.
func ValidCredential(s string) bool {
	return s != "" && len(s) <= MaxCredentialBytes && utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

func hasDuplicate(list []string) bool {
	seen := make(map[string]bool, len(list))
	for _, s := range list {
		if seen[s] {
			return true
		}
		seen[s] = true
	}
	return false
}

// Client returns the client registered as id.
func (r *Registry) Client(id string) (Client, bool) {
	c, ok := r.clients[id]
	return c, ok
}

// ClientsUsing returns, sorted, the ids of the clients that may authenticate
// by method.
func (r *Registry) ClientsUsing(method string) []string {
	var ids []string
	for _, id := range r.ClientIDs() {
		if r.clients[id].AllowsAuthMethod(method) {
			ids = append(ids, id)
		}
	}
	return ids
}

// ClientIDs returns the registered client ids, sorted.
func (r *Registry) ClientIDs() []string {
	ids := make([]string, 0, len(r.clients))
	for id := range r.clients {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Scopes returns every scope of every API resource, in configuration order
// without duplicates.
func (r *Registry) Scopes() []string {
	var out []string
	for _, res := range r.resources {
		for _, s := range res.Scopes {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// Audience returns the names of the API resources owning any of scopes, in
// configuration order.
func (r *Registry) Audience(scopes []string) []string {
	var out []string
	for _, res := range r.resources {
		for _, s := range res.Scopes {
			if slices.Contains(scopes, s) {
				out = append(out, res.Name)
				break
			}
		}
	}
	return out
}

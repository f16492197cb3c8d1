package main

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tokenbearer/authserver/internal/keystore"
	"github.com/tokenbearer/authserver/internal/secret"
	"github.com/tokenbearer/authserver/internal/throttle"
)

const formType = "application/x-www-form-urlencoded"

// tokenRequest describes one call to /connect/token.
type tokenRequest struct {
	method      string // POST when empty
	query       string
	contentType string // formType when empty; "-" for none
	body        string
	basic       *[2]string // id, secret: form-urlencoded then base64 (RFC 6749 2.3.1)
	authz       []string   // raw Authorization header values
	header      map[string]string
}

func basicHeader(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func (s *testServer) token(t *testing.T, tr tokenRequest) (*http.Response, []byte) {
	t.Helper()
	method := tr.method
	if method == "" {
		method = http.MethodPost
	}
	target := s.URL + "/connect/token"
	if tr.query != "" {
		target += "?" + tr.query
	}
	req, err := http.NewRequest(method, target, strings.NewReader(tr.body))
	if err != nil {
		t.Fatal(err)
	}
	switch tr.contentType {
	case "":
		req.Header.Set("Content-Type", formType)
	case "-":
	default:
		req.Header.Set("Content-Type", tr.contentType)
	}
	if tr.basic != nil {
		req.Header.Set("Authorization", basicHeader(tr.basic[0], tr.basic[1]))
	}
	for _, v := range tr.authz {
		req.Header.Add("Authorization", v)
	}
	for k, v := range tr.header {
		req.Header.Set(k, v)
	}
	return answer(t)(s.Client().Do(req))
}

func wantNoStore(t *testing.T, resp *http.Response) {
	t.Helper()
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := resp.Header.Get("Pragma"); got != "no-cache" {
		t.Errorf("Pragma = %q, want no-cache", got)
	}
}

// jwksKey fetches the server's JWKS and returns the RSA public key for kid.
func (s *testServer) jwksKey(t *testing.T, kid string) *rsa.PublicKey {
	t.Helper()
	_, body := s.get(t, "/.well-known/openid-configuration/jwks")
	for _, raw := range decodeJSON(t, body)["keys"].([]any) {
		k := raw.(map[string]any)
		if k["kid"] != kid {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k["n"].(string))
		e, err2 := base64.RawURLEncoding.DecodeString(k["e"].(string))
		if err1 != nil || err2 != nil {
			t.Fatalf("bad n/e in JWKS: %s", body)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	t.Fatalf("kid %q not in JWKS %s", kid, body)
	return nil
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

func TestTokenSuccess(t *testing.T) {
	srv := newTestServer(t, testKeys(t))
	active, _ := srv.keys.Signing()
	tests := []struct {
		name      string
		req       tokenRequest
		wantSub   string
		wantScope string
		wantAud   any
	}{
		{
			name:    "client_secret_basic, scope absent = all allowed",
			req:     tokenRequest{basic: &[2]string{"ApiClient", "secret"}, body: form("grant_type", "client_credentials")},
			wantSub: "ApiClient", wantScope: "auth.web.api", wantAud: "auth.web.api",
		},
		{
			name:    "client_secret_post with scope",
			req:     tokenRequest{body: form("grant_type", "client_credentials", "client_id", "ApiClient", "client_secret", "secret", "scope", "auth.web.api")},
			wantSub: "ApiClient", wantScope: "auth.web.api", wantAud: "auth.web.api",
		},
		{
			name:    "basic with form-urlencoded special characters in id and secret",
			req:     tokenRequest{basic: &[2]string{specialID, specialSecret}, body: form("grant_type", "client_credentials")},
			wantSub: specialID, wantScope: "auth.web.api", wantAud: "auth.web.api",
		},
		{
			name:    "post with special characters",
			req:     tokenRequest{body: form("grant_type", "client_credentials", "client_id", specialID, "client_secret", specialSecret)},
			wantSub: specialID, wantScope: "auth.web.api", wantAud: "auth.web.api",
		},
		{
			name:    "basic plus the same client_id in the body",
			req:     tokenRequest{basic: &[2]string{"ApiClient", "secret"}, body: form("grant_type", "client_credentials", "client_id", "ApiClient")},
			wantSub: "ApiClient", wantScope: "auth.web.api", wantAud: "auth.web.api",
		},
		{
			name:    "content type with charset",
			req:     tokenRequest{contentType: formType + "; charset=UTF-8", basic: &[2]string{"ApiClient", "secret"}, body: form("grant_type", "client_credentials")},
			wantSub: "ApiClient", wantScope: "auth.web.api", wantAud: "auth.web.api",
		},
		{
			name:    "empty scope counts as absent",
			req:     tokenRequest{basic: &[2]string{"ApiClient", "secret"}, body: form("grant_type", "client_credentials", "scope", "")},
			wantSub: "ApiClient", wantScope: "auth.web.api", wantAud: "auth.web.api",
		},
		{
			name:    "several resources: audience is an array",
			req:     tokenRequest{basic: &[2]string{"multi", "multi-secret"}, body: form("grant_type", "client_credentials")},
			wantSub: "multi", wantScope: "auth.web.api orders.read orders.write", wantAud: []any{"auth.web.api", "orders.api"},
		},
		{
			name:    "subset of scopes, deduplicated, one resource",
			req:     tokenRequest{basic: &[2]string{"multi", "old-multi-secret"}, body: form("grant_type", "client_credentials", "scope", "orders.write orders.read orders.write")},
			wantSub: "multi", wantScope: "orders.write orders.read", wantAud: "orders.api",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now().Unix()
			resp, body := srv.token(t, tt.req)
			if resp.StatusCode != 200 {
				t.Fatalf("status = %d %s, want 200", resp.StatusCode, body)
			}
			wantNoStore(t, resp)
			wantJSONContentType(t, resp)
			got := decodeJSON(t, body)
			if got["token_type"] != "Bearer" || got["expires_in"] != float64(3600) || got["scope"] != tt.wantScope {
				t.Errorf("response = %s, want Bearer, 3600, scope %q", body, tt.wantScope)
			}
			if len(got) != 4 {
				t.Errorf("response has %d members, want 4: %s", len(got), body)
			}

			claims := jwt.MapClaims{}
			tok, err := jwt.ParseWithClaims(got["access_token"].(string), claims,
				func(tok *jwt.Token) (any, error) { return srv.jwksKey(t, tok.Header["kid"].(string)), nil },
				jwt.WithValidMethods([]string{"RS256"}),
				jwt.WithIssuer(srv.issuer),
				jwt.WithExpirationRequired(),
				jwt.WithIssuedAt(),
			)
			if err != nil {
				t.Fatalf("token does not verify with the JWKS key: %v", err)
			}
			if want := map[string]any{"alg": "RS256", "kid": active.ID, "typ": "at+jwt"}; !reflect.DeepEqual(tok.Header, want) {
				t.Errorf("header = %v, want %v", tok.Header, want)
			}
			iat, _ := claims["iat"].(float64)
			if int64(iat) < before || int64(iat) > time.Now().Unix() {
				t.Errorf("iat = %v, not the time of the request", iat)
			}
			jti, _ := claims["jti"].(string)
			if raw, err := base64.RawURLEncoding.DecodeString(jti); err != nil || len(raw) < 16 {
				t.Errorf("jti %q is not base64url of at least 128 bits", jti)
			}
			delete(claims, "jti")
			want := jwt.MapClaims{
				"iss": srv.issuer, "sub": tt.wantSub, "client_id": tt.wantSub, "aud": tt.wantAud,
				"scope": tt.wantScope, "iat": iat, "nbf": iat, "exp": iat + 3600,
			}
			if !reflect.DeepEqual(claims, want) {
				t.Errorf("claims = %v\nwant     %v", claims, want)
			}
		})
	}
}

func TestTokenJTIIsUnique(t *testing.T) {
	srv := newTestServer(t, testKeys(t))
	seen := map[string]bool{}
	for range 5 {
		_, body := srv.token(t, tokenRequest{basic: &[2]string{"ApiClient", "secret"}, body: form("grant_type", "client_credentials")})
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(decodeJSON(t, body)["access_token"].(string), claims); err != nil {
			t.Fatal(err)
		}
		jti := claims["jti"].(string)
		if seen[jti] {
			t.Fatalf("jti %s repeated", jti)
		}
		seen[jti] = true
	}
}

func TestTokenErrors(t *testing.T) {
	srv := newTestServer(t, testKeys(t))
	good := form("grant_type", "client_credentials")
	apiClient := &[2]string{"ApiClient", "secret"}
	tests := []struct {
		name        string
		req         tokenRequest
		wantStatus  int
		wantError   string
		wantWWWAuth bool
	}{
		{"GET", tokenRequest{method: "GET", basic: apiClient}, 405, "invalid_request", false},
		{"PUT", tokenRequest{method: "PUT", basic: apiClient, body: good}, 405, "invalid_request", false},
		{"DELETE", tokenRequest{method: "DELETE"}, 405, "invalid_request", false},
		{"credentials in the query string", tokenRequest{query: "client_id=ApiClient&client_secret=secret", body: good}, 400, "invalid_request", false},
		{"grant_type in the query string", tokenRequest{query: "grant_type=client_credentials", basic: apiClient}, 400, "invalid_request", false},
		{"JSON content type", tokenRequest{contentType: "application/json", basic: apiClient, body: `{"grant_type":"client_credentials"}`}, 400, "invalid_request", false},
		{"no content type", tokenRequest{contentType: "-", basic: apiClient, body: good}, 400, "invalid_request", false},
		{"multipart content type", tokenRequest{contentType: "multipart/form-data; boundary=x", basic: apiClient, body: good}, 400, "invalid_request", false},
		{"malformed body", tokenRequest{basic: apiClient, body: "grant_type=%zz"}, 400, "invalid_request", false},
		{"repeated grant_type", tokenRequest{basic: apiClient, body: good + "&grant_type=client_credentials"}, 400, "invalid_request", false},
		{"repeated scope", tokenRequest{basic: apiClient, body: good + "&scope=auth.web.api&scope=auth.web.api"}, 400, "invalid_request", false},
		{"repeated client_secret", tokenRequest{body: good + "&client_id=ApiClient&client_secret=secret&client_secret=secret"}, 400, "invalid_request", false},
		{"missing grant_type", tokenRequest{basic: apiClient, body: form("scope", "auth.web.api")}, 400, "invalid_request", false},
		{"empty grant_type", tokenRequest{basic: apiClient, body: "grant_type="}, 400, "invalid_request", false},
		{"basic and post both", tokenRequest{basic: apiClient, body: good + "&client_id=ApiClient&client_secret=secret"}, 400, "invalid_request", false},
		{"basic and body secret", tokenRequest{basic: apiClient, body: good + "&client_secret=secret"}, 400, "invalid_request", false},
		{"basic and another client_id", tokenRequest{basic: apiClient, body: good + "&client_id=multi"}, 400, "invalid_request", false},
		{"two Authorization headers", tokenRequest{authz: []string{basicHeader("ApiClient", "secret"), basicHeader("ApiClient", "secret")}, body: good}, 400, "invalid_request", false},
		{"unknown client (post)", tokenRequest{body: good + "&client_id=nobody&client_secret=secret"}, 401, "invalid_client", false},
		{"wrong secret (post)", tokenRequest{body: good + "&client_id=ApiClient&client_secret=wrong"}, 401, "invalid_client", false},
		{"no credentials", tokenRequest{body: good}, 401, "invalid_client", false},
		{"client_id without secret", tokenRequest{body: good + "&client_id=ApiClient"}, 401, "invalid_client", false},
		{"secret without client_id", tokenRequest{body: good + "&client_secret=secret"}, 401, "invalid_client", false},
		{"secret of another client", tokenRequest{body: good + "&client_id=ApiClient&client_secret=multi-secret"}, 401, "invalid_client", false},
		{"unknown client (basic)", tokenRequest{basic: &[2]string{"nobody", "secret"}, body: good}, 401, "invalid_client", true},
		{"wrong secret (basic)", tokenRequest{basic: &[2]string{"ApiClient", "wrong"}, body: good}, 401, "invalid_client", true},
		{"secret sent without form-encoding", tokenRequest{authz: []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(specialID+":"+specialSecret))}, body: good}, 401, "invalid_client", true},
		{"basic not base64", tokenRequest{authz: []string{"Basic !!!"}, body: good}, 401, "invalid_client", true},
		{"basic without colon", tokenRequest{authz: []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("ApiClient"))}, body: good}, 401, "invalid_client", true},
		{"basic with bad escape", tokenRequest{authz: []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("ApiClient:%zz"))}, body: good}, 401, "invalid_client", true},
		{"basic with empty secret", tokenRequest{basic: &[2]string{"ApiClient", ""}, body: good}, 401, "invalid_client", true},
		{"bearer scheme", tokenRequest{authz: []string{"Bearer abc"}, body: good}, 401, "invalid_client", true},
		{"other grant, valid client", tokenRequest{basic: apiClient, body: form("grant_type", "password", "username", "u", "password", "p")}, 400, "unsupported_grant_type", false},
		{"authorization_code grant", tokenRequest{basic: apiClient, body: form("grant_type", "authorization_code", "code", "x")}, 400, "unsupported_grant_type", false},
		{"other grant, bad client: authentication comes first", tokenRequest{basic: &[2]string{"ApiClient", "wrong"}, body: form("grant_type", "password")}, 401, "invalid_client", true},
		{"grant not allowed for client", tokenRequest{basic: &[2]string{"no-grant", "no-grant-secret"}, body: good}, 400, "unauthorized_client", false},
		{"unknown scope", tokenRequest{basic: apiClient, body: good + "&scope=nope"}, 400, "invalid_scope", false},
		{"scope of another resource not allowed", tokenRequest{basic: apiClient, body: good + "&scope=orders.read"}, 400, "invalid_scope", false},
		{"one good, one bad scope", tokenRequest{basic: apiClient, body: form("grant_type", "client_credentials", "scope", "auth.web.api nope")}, 400, "invalid_scope", false},
		{"scope with a forbidden character", tokenRequest{basic: apiClient, body: form("grant_type", "client_credentials", "scope", `auth.web.api "x"`)}, 400, "invalid_scope", false},
		{"scope separated by a tab", tokenRequest{basic: apiClient, body: form("grant_type", "client_credentials", "scope", "auth.web.api\tauth.web.api")}, 400, "invalid_scope", false},
		{"body over 64 KiB", tokenRequest{basic: apiClient, body: good + "&pad=" + strings.Repeat("a", 64<<10)}, 413, "invalid_request", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := srv.token(t, tt.req)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d (%s)", resp.StatusCode, tt.wantStatus, body)
			}
			wantNoStore(t, resp)
			wantJSONContentType(t, resp)
			got := decodeJSON(t, body)
			if got["error"] != tt.wantError {
				t.Errorf("error = %v, want %s (%s)", got["error"], tt.wantError, body)
			}
			if d, _ := got["error_description"].(string); d == "" {
				t.Errorf("no error_description: %s", body)
			}
			if _, ok := got["access_token"]; ok {
				t.Errorf("error response carries a token: %s", body)
			}
			www := resp.Header.Get("WWW-Authenticate")
			if tt.wantWWWAuth && www != `Basic realm="authserver"` {
				t.Errorf(`WWW-Authenticate = %q, want Basic realm="authserver"`, www)
			}
			if !tt.wantWWWAuth && www != "" {
				t.Errorf("WWW-Authenticate = %q, want none", www)
			}
			if tt.wantStatus == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", resp.Header.Get("Allow"))
			}
		})
	}
}

// TestInvalidClientIsIndistinguishable checks that a caller cannot tell an
// unknown client from a wrong secret or from sending no credentials.
func TestInvalidClientIsIndistinguishable(t *testing.T) {
	srv := newTestServer(t, testKeys(t))
	good := form("grant_type", "client_credentials")
	groups := map[string][]tokenRequest{
		"post": {
			{body: good + "&client_id=nobody&client_secret=secret"},
			{body: good + "&client_id=ApiClient&client_secret=wrong"},
			{body: good},
			{body: good + "&client_id=" + strings.Repeat("a", 101) + "&client_secret=secret"},
			{body: good + "&client_id=Api%00Client&client_secret=secret"},
			{body: good + "&client_id=%FF&client_secret=secret"},
			{body: good + "&client_id=ApiClient&client_secret=" + strings.Repeat("s", 101)},
		},
		"basic": {
			{basic: &[2]string{"nobody", "secret"}, body: good},
			{basic: &[2]string{"ApiClient", "wrong"}, body: good},
			{authz: []string{"Basic"}, body: good},
			{authz: []string{"Basic !!!"}, body: good},
			{authz: []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("ApiClient"))}, body: good},
			{authz: []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("ApiClient:%zz"))}, body: good},
			{authz: []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("\xff:secret"))}, body: good},
			{basic: &[2]string{strings.Repeat("a", 101), "secret"}, body: good},
			{basic: &[2]string{"ApiClient", "secret\x00"}, body: good},
		},
	}
	var first []byte
	for name, reqs := range groups {
		var header string
		for i, req := range reqs {
			resp, body := srv.token(t, req)
			if first == nil {
				first = body
			}
			if string(body) != string(first) {
				t.Errorf("%s case %d body = %s, want byte-identical %s", name, i, body, first)
			}
			if i == 0 {
				header = fmt.Sprint(resp.Header["Www-Authenticate"])
			} else if got := fmt.Sprint(resp.Header["Www-Authenticate"]); got != header {
				t.Errorf("%s case %d WWW-Authenticate = %s, want %s", name, i, got, header)
			}
		}
	}
}

func TestTokenRequestsDoNotLogSecrets(t *testing.T) {
	srv := newTestServer(t, testKeys(t))
	authz := basicHeader("ApiClient", "secret")
	_, body := srv.token(t, tokenRequest{authz: []string{authz}, body: form("grant_type", "client_credentials")})
	token := decodeJSON(t, body)["access_token"].(string)
	srv.token(t, tokenRequest{query: "client_secret=query-secret-value", body: form("grant_type", "client_credentials")})
	srv.token(t, tokenRequest{body: form("grant_type", "client_credentials", "client_id", "ApiClient", "client_secret", "body-secret-value")})

	logs := srv.logs.String()
	if !strings.Contains(logs, "path=/connect/token status=200") {
		t.Fatalf("request was not logged: %s", logs)
	}
	for _, leak := range []string{authz, strings.TrimPrefix(authz, "Basic "), token, token[:20], "query-secret-value", "body-secret-value"} {
		if strings.Contains(logs, leak) {
			t.Errorf("logs contain %q:\n%s", leak, logs)
		}
	}
}

// TestTokenLifetime: expires_in and the token's exp follow the configured
// lifetime, not the one-hour default the other tests use.
func TestTokenLifetime(t *testing.T) {
	h := newTestHandler(t, 90*time.Second)
	req := httptest.NewRequest(http.MethodPost, "/connect/token", strings.NewReader(form("grant_type", "client_credentials")))
	req.Header.Set("Content-Type", formType)
	req.Header.Set("Authorization", basicHeader("ApiClient", "secret"))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d %s, want 200", rec.Code, rec.Body)
	}
	got := decodeJSON(t, rec.Body.Bytes())
	if got["expires_in"] != float64(90) {
		t.Errorf("expires_in = %v, want 90", got["expires_in"])
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(got["access_token"].(string), claims); err != nil {
		t.Fatal(err)
	}
	iat, _ := claims["iat"].(float64)
	if exp, _ := claims["exp"].(float64); exp-iat != 90 {
		t.Errorf("exp - iat = %v, want 90", exp-iat)
	}
}

// TestTokenWithoutSigningKey: when no token can be signed the endpoint
// answers a JSON server_error, still no-store, and tells why only the log.
func TestTokenWithoutSigningKey(t *testing.T) {
	srv := newTestServer(t, keystore.New())
	resp, body := srv.token(t, tokenRequest{basic: &[2]string{"ApiClient", "secret"}, body: form("grant_type", "client_credentials")})
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status = %d %s, want 500", resp.StatusCode, body)
	}
	wantNoStore(t, resp)
	wantJSONContentType(t, resp)
	if want := `{"error":"server_error","error_description":"could not issue a token"}`; string(body) != want {
		t.Errorf("body = %s, want %s", body, want)
	}
	if logs := srv.logs.String(); !strings.Contains(logs, "issuing token") || !strings.Contains(logs, keystore.ErrNoSigningKey.Error()) {
		t.Errorf("the cause is not logged:\n%s", logs)
	}
}

// TestFailedAuthenticationLogsReason: each failed client authentication
// logs one line with a fixed reason, the client_id only when it is
// registered, and nothing the caller sent as a secret; the caller still
// gets the one invalid_client answer.
func TestFailedAuthenticationLogsReason(t *testing.T) {
	good := form("grant_type", "client_credentials")
	tests := []struct {
		name         string
		body         string
		authz        string // Authorization header, if any
		wantReason   string
		wantClientID string
		hidden       []string // sent, never to be logged
	}{
		{"unknown client (post)", good + "&" + form("client_id", "nobody-7f3a", "client_secret", "guess-9c1e"),
			"", "unknown client", "(unregistered)", []string{"nobody-7f3a", "guess-9c1e"}},
		{"unknown client (basic)", good, basicHeader("nobody-b2d4", "guess-e8f0"),
			"unknown client", "(unregistered)", []string{"nobody-b2d4", "guess-e8f0", strings.TrimPrefix(basicHeader("nobody-b2d4", "guess-e8f0"), "Basic ")}},
		{"wrong secret (post)", good + "&" + form("client_id", "ApiClient", "client_secret", "wrong-5a6b"),
			"", "wrong secret", "ApiClient", []string{"wrong-5a6b"}},
		{"wrong secret (basic)", good, basicHeader("ApiClient", "wrong-c7d8"),
			"wrong secret", "ApiClient", []string{"wrong-c7d8", strings.TrimPrefix(basicHeader("ApiClient", "wrong-c7d8"), "Basic ")}},
		{"secret of another client", good + "&" + form("client_id", "ApiClient", "client_secret", "multi-secret"),
			"", "wrong secret", "ApiClient", []string{"multi-secret"}},
		{"Basic header not base64", good, "Basic ApiClient:plain-3e4f",
			"malformed Basic header", "(unregistered)", []string{"plain-3e4f"}},
		{"Basic header without colon", good, "Basic " + base64.StdEncoding.EncodeToString([]byte("ApiClient-only-1a2b")),
			"malformed Basic header", "(unregistered)", []string{"ApiClient-only-1a2b", base64.StdEncoding.EncodeToString([]byte("ApiClient-only-1a2b"))}},
		{"other Authorization scheme", good, "Bearer token-6c7d",
			"Authorization scheme is not Basic", "(unregistered)", []string{"token-6c7d"}},
		{"no client credentials", good, "", "no client credentials", "(unregistered)", nil},
		{"secret without client_id", good + "&" + form("client_secret", "lonely-8e9f"),
			"", "no client_id", "(unregistered)", []string{"lonely-8e9f"}},
		{"client_id too long", good + "&" + form("client_id", strings.Repeat("x", 101), "client_secret", "long-0a1b"),
			"", "implausible client_id", "(unregistered)", []string{strings.Repeat("x", 101), "long-0a1b"}},
		{"client_id with a control character", good + "&" + form("client_id", "Api\x00Client-2c3d", "client_secret", "ctl-4e5f"),
			"", "implausible client_id", "(unregistered)", []string{"Client-2c3d", "ctl-4e5f"}},
		{"registered client without secret", good + "&" + form("client_id", "ApiClient"),
			"", "no client_secret", "ApiClient", nil},
		{"secret too long", good + "&" + form("client_id", "ApiClient", "client_secret", strings.Repeat("s", 101)),
			"", "implausible client_secret", "ApiClient", []string{strings.Repeat("s", 101)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncBuffer{}
			h := NewServer(slog.New(slog.NewJSONHandler(logs, nil)), "http://issuer.test", time.Hour, testRegistry(t), testKeys(t), newAuthThrottle(lenient, lenient, time.Now), clientTLS{})
			req := httptest.NewRequest(http.MethodPost, "/connect/token", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", formType)
			if tt.authz != "" {
				req.Header.Set("Authorization", tt.authz)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized || rec.Body.String() != invalidClientBody {
				t.Errorf("got %d %s, want 401 %s", rec.Code, rec.Body, invalidClientBody)
			}

			var failures []map[string]any
			for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("log line %q: %v", line, err)
				}
				if rec["msg"] == "client authentication failed" {
					failures = append(failures, rec)
				}
			}
			if len(failures) != 1 {
				t.Fatalf("got %d failure lines, want 1:\n%s", len(failures), logs)
			}
			got := failures[0]
			if got["reason"] != tt.wantReason {
				t.Errorf("got reason %q, want %q", got["reason"], tt.wantReason)
			}
			if got["client_id"] != tt.wantClientID {
				t.Errorf("got client_id %q, want %q", got["client_id"], tt.wantClientID)
			}
			if got["level"] != "INFO" || got["remote"] != "192.0.2.1" {
				t.Errorf("got level %v, remote %v; want INFO, 192.0.2.1", got["level"], got["remote"])
			}
			for _, leak := range tt.hidden {
				if strings.Contains(logs.String(), leak) {
					t.Errorf("logs contain %q:\n%s", leak, logs)
				}
			}
		})
	}
}

// hashing is one call of matchSecret: the presented secret hashed and
// compared with this many stored hashes.
type hashing struct{ stored int }

// countHashing makes matchSecret record its calls for the rest of the test.
func countHashing(t *testing.T) *[]hashing {
	t.Helper()
	var calls []hashing
	orig := matchSecret
	matchSecret = func(hashes []secret.Hash, plain string) bool {
		calls = append(calls, hashing{stored: len(hashes)})
		return orig(hashes, plain)
	}
	t.Cleanup(func() { matchSecret = orig })
	return &calls
}

// TestAuthenticationTiming pins the work a failed authentication costs, so
// that its time tells nothing about which client ids exist: an unknown but
// plausible id hashes the secret and compares it with a dummy hash, exactly
// as a registered id with a wrong secret does. Only input that fails the
// plausibility checks, which depend on the request alone, skips the
// hashing, and so does a throttled caller.
func TestAuthenticationTiming(t *testing.T) {
	good := form("grant_type", "client_credentials")
	post := func(id, sec string) string { return good + "&" + form("client_id", id, "client_secret", sec) }
	tests := []struct {
		name  string
		body  string
		authz string
		want  []hashing
	}{
		{"registered id, wrong secret", post("ApiClient", "wrong"), "", []hashing{{1}}},
		{"unknown id, same secret", post("nobody", "wrong"), "", []hashing{{1}}},
		{"unknown id (basic)", good, basicHeader("nobody", "wrong"), []hashing{{1}}},
		{"registered id with two secrets, wrong secret", post("multi", "wrong"), "", []hashing{{2}}},
		{"right secret", post("ApiClient", "secret"), "", []hashing{{1}}},
		{"implausible id: too long", post(strings.Repeat("a", 101), "wrong"), "", nil},
		{"implausible id: control character", post("Api\x00Client", "wrong"), "", nil},
		{"implausible id: invalid UTF-8", post("\xff", "wrong"), "", nil},
		{"implausible secret, registered id", post("ApiClient", strings.Repeat("s", 101)), "", nil},
		{"implausible secret, unknown id", post("nobody", strings.Repeat("s", 101)), "", nil},
		{"empty secret", post("ApiClient", ""), "", nil},
		{"no credentials", good, "", nil},
		{"malformed Basic header", good, "Basic !!!", nil},
	}
	// In-process, so that matchSecret is read on the test's goroutine.
	send := func(h http.Handler, body, authz string) int {
		req := httptest.NewRequest(http.MethodPost, "/connect/token", strings.NewReader(body))
		req.Header.Set("Content-Type", formType)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	h := newTestHandler(t, time.Hour)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := countHashing(t)
			send(h, tt.body, tt.authz)
			if !slices.Equal(*calls, tt.want) {
				t.Errorf("got hashing %v, want %v", *calls, tt.want)
			}
		})
	}

	t.Run("throttled caller", func(t *testing.T) {
		tight := throttle.Limit{PerMinute: 1, Burst: 1}
		h := NewServer(slog.New(slog.DiscardHandler), "http://issuer.test", time.Hour, testRegistry(t), testKeys(t), newAuthThrottle(tight, lenient, time.Now), clientTLS{})
		send(h, post("ApiClient", "wrong"), "") // spends the burst
		calls := countHashing(t)
		if got := send(h, post("ApiClient", "wrong"), ""); got != http.StatusTooManyRequests {
			t.Fatalf("got status %d, want 429", got)
		}
		if len(*calls) != 0 {
			t.Errorf("got hashing %v, want none", *calls)
		}
	})
}

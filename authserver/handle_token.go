package main

import (
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tokenbearer/authserver/internal/accesstoken"
	"github.com/tokenbearer/authserver/internal/clientauth"
	"github.com/tokenbearer/authserver/internal/registry"
	"github.com/tokenbearer/authserver/internal/secret"
)

// maxTokenRequestBytes caps the form body of a token request.
const maxTokenRequestBytes = 64 << 10

// basicRealm is sent in WWW-Authenticate when Basic authentication failed.
const basicRealm = `Basic realm="authserver"`

// tokenError is an RFC 6749 5.2 error response.
type tokenError struct {
	status      int
	code        string
	description string
	basic       bool          // the client tried the Authorization header
	retryAfter  time.Duration // for 429
}

func invalidRequest(description string) *tokenError {
	return &tokenError{status: http.StatusBadRequest, code: "invalid_request", description: description}
}

// invalidClient is the one answer to every failed client authentication,
// so unknown clients, wrong secrets and missing credentials look the same.
func invalidClient(basic bool) *tokenError {
	return &tokenError{status: http.StatusUnauthorized, code: "invalid_client", description: "client authentication failed", basic: basic}
}

// tooManyFailures answers a caller whose failed authentications used up the
// budget of its client_id or address.
//
// RFC 6749 defines no error code for this. invalid_client would be wrong: it
// makes clients think their secret is bad (and 401 demands
// WWW-Authenticate); temporarily_unavailable belongs to the authorization
// endpoint and means an overloaded server; slow_down is RFC 8628 device
// polling. So the answer is 429 with Retry-After (RFC 6585 4) in the RFC
// 6749 5.2 JSON shape, with the code "too_many_requests" as Auth0 uses it,
// which generic OAuth clients surface as an ordinary token error.
func tooManyFailures(wait time.Duration) *tokenError {
	return &tokenError{status: http.StatusTooManyRequests, code: "too_many_requests",
		description: "too many failed client authentications; retry later", retryAfter: wait}
}

// credentials are what a request presents to authenticate its client.
type credentials struct {
	clientauth.Request
	// unreadable says, for the log, why an Authorization header gave no
	// credentials; empty when it was read or absent.
	unreadable string
}

// matchSecret is secret.MatchesAny, the one hashing of a presented secret;
// tests replace it to count which requests pay for it.
var matchSecret = secret.MatchesAny

// authMethods are the client authentication methods the token endpoint
// knows, by name.
type authMethods map[string]clientauth.Method

func newAuthMethods(ctls clientTLS) authMethods {
	// Read at each call, so that a test's replacement counts.
	match := func(hashes []secret.Hash, plain string) bool { return matchSecret(hashes, plain) }
	ms := authMethods{}
	for _, m := range []clientauth.Method{
		clientauth.NewSecret(registry.AuthSecretBasic, match),
		clientauth.NewSecret(registry.AuthSecretPost, match),
		// Registered over plain HTTP too, where no request has a
		// certificate, so that they fail there as "no client certificate".
		clientauth.NewTLSClientAuth(ctls.roots, nil),
		clientauth.NewSelfSignedTLSClientAuth(nil),
	} {
		ms[m.Name()] = m
	}
	return ms
}

// presented is the one method a request uses (RFC 6749 2.3: never more than
// one). A secret, in the Authorization header or in the body (never both:
// clientCredentials refuses that as invalid_request), makes it a secret
// method, with or without a certificate: a secret client may present one,
// as a browser or a shared TLS setup does, and it then proves nothing. A
// certificate client that sends a secret has used a method it is not
// registered for and fails as invalid_client, like an unknown id: an
// invalid_request would tell which ids are certificate clients, and so
// which exist. Without a secret, a certificate client uses its certificate
// method (RFC 8705 2: client_id in the body names it), and any other id that
// presents a certificate is checked as tls_client_auth, at the cost a
// registered client's chain costs. Nothing presented is a
// client_secret_post without a secret.
func (ms authMethods) presented(cred clientauth.Request, client registry.Client, known bool) clientauth.Method {
	switch {
	case cred.Basic:
		return ms[registry.AuthSecretBasic]
	case cred.Secret != "":
		return ms[registry.AuthSecretPost]
	}
	if known {
		for _, name := range []string{registry.AuthTLS, registry.AuthSelfSignedTLS} {
			if client.AllowsAuthMethod(name) {
				return ms[name]
			}
		}
	}
	if len(cred.Certificates) > 0 {
		return ms[registry.AuthTLS]
	}
	return ms[registry.AuthSecretPost]
}

// handleToken is the token endpoint (RFC 6749 3.2, 4.4) for the client
// credentials grant. Checks run in this order: request syntax
// (invalid_request), client authentication (invalid_client), grant type
// (unsupported_grant_type, unauthorized_client), scope (invalid_scope).
func handleToken(logger *slog.Logger, reg *registry.Registry, minter *accesstoken.Minter, limiter *authThrottle, ctls clientTLS) gin.HandlerFunc {
	type response struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	expiresIn := int64(minter.Lifetime / time.Second)
	methods := newAuthMethods(ctls)

	// authenticate runs inside the failure budget of the caller's address
	// and client_id. An implausible id (over-long, control characters,
	// invalid UTF-8) fails like a wrong secret before any method runs, and
	// only the address pays.
	authenticate := func(remoteAddr string, cred credentials) (registry.Client, clientauth.Proof, *tokenError) {
		budgetID := ""
		if registry.ValidCredential(cred.ClientID) {
			budgetID = cred.ClientID
		}
		client, known := reg.Client(cred.ClientID)
		// Only a registered id is logged: an unknown one may be a secret
		// pasted into the wrong field.
		loggedID := "(unregistered)"
		if known {
			loggedID = client.ID
		}
		// Only a secret can be guessed. A request that presents none (a
		// certificate, whose private key cannot be guessed, or nothing) spends
		// the address budget alone: otherwise anyone could lock a certificate
		// client out by sending its client_id with wrong certificates.
		throttledID := ""
		if cred.Basic || cred.Secret != "" {
			throttledID = budgetID
		}
		end, wait := limiter.begin(remoteAddr, throttledID)
		if end == nil {
			logger.Warn("client authentication throttled", "remote", addrKey(remoteAddr), "client_id", loggedID)
			return registry.Client{}, clientauth.Proof{}, tooManyFailures(wait)
		}
		var proof clientauth.Proof
		var err error = clientauth.Unregistered
		var method clientauth.Method
		if budgetID != "" {
			method = methods.presented(cred.Request, client, known)
			// A client not registered for the method it used is checked as
			// an unknown one is, at the same cost, and fails.
			registered := &client
			if !known || !client.AllowsAuthMethod(method.Name()) {
				registered = nil
			}
			proof, err = method.Authenticate(cred.Request, registered)
		}
		end(err != nil)
		if err != nil {
			// The caller gets one answer for every failure; the log says
			// which, but never the secret or the Authorization header.
			logger.Info("client authentication failed", "reason", failureReason(cred, known, method, err),
				"remote", addrKey(remoteAddr), "client_id", loggedID)
			return registry.Client{}, clientauth.Proof{}, invalidClient(cred.Basic)
		}
		return client, proof, nil
	}

	issue := func(w http.ResponseWriter, r *http.Request) (response, *tokenError) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			return response{}, &tokenError{status: http.StatusMethodNotAllowed, code: "invalid_request", description: "the token endpoint accepts only POST"}
		}
		form, terr := readTokenForm(w, r)
		if terr != nil {
			return response{}, terr
		}
		grantType := form.Get("grant_type")
		if grantType == "" {
			return response{}, invalidRequest("missing grant_type")
		}
		cred, terr := clientCredentials(r, form)
		if terr != nil {
			return response{}, terr
		}
		// The certificate is the one this connection's handshake received.
		// Behind a proxy that ends TLS it never gets here, and no header the
		// proxy could set is trusted in its place: the certificate methods
		// work only where the server terminates TLS itself.
		if r.TLS != nil {
			cred.Certificates = r.TLS.PeerCertificates
		}
		client, proof, terr := authenticate(r.RemoteAddr, cred)
		if terr != nil {
			return response{}, terr
		}
		if grantType != registry.GrantClientCredentials {
			return response{}, &tokenError{status: http.StatusBadRequest, code: "unsupported_grant_type", description: "only client_credentials is supported"}
		}
		if !client.AllowsGrant(grantType) {
			return response{}, &tokenError{status: http.StatusBadRequest, code: "unauthorized_client", description: "client may not use grant type client_credentials"}
		}
		scopes, terr := grantedScopes(client, form.Get("scope"))
		if terr != nil {
			return response{}, terr
		}
		tok, err := minter.Mint(accesstoken.Grant{ClientID: client.ID, Audience: reg.Audience(scopes), Scopes: scopes,
			CertificateThumbprint: proof.CertificateThumbprint})
		if err != nil {
			logger.Error("issuing token", "client_id", client.ID, "err", err)
			return response{}, &tokenError{status: http.StatusInternalServerError, code: "server_error", description: "could not issue a token"}
		}
		return response{AccessToken: tok, TokenType: "Bearer", ExpiresIn: expiresIn, Scope: strings.Join(scopes, " ")}, nil
	}

	return func(c *gin.Context) {
		// RFC 6749 5.1: never cache responses that may carry tokens.
		c.Header("Cache-Control", "no-store")
		c.Header("Pragma", "no-cache")
		resp, terr := issue(c.Writer, c.Request)
		if terr != nil {
			if terr.basic && terr.status == http.StatusUnauthorized {
				c.Header("WWW-Authenticate", basicRealm)
			}
			if terr.retryAfter > 0 {
				c.Header("Retry-After", strconv.Itoa(int(math.Ceil(terr.retryAfter.Seconds()))))
			}
			c.JSON(terr.status, errorBody{Error: terr.code, Description: terr.description})
			return
		}
		c.JSON(http.StatusOK, resp)
	}
}

// readTokenForm reads the form body itself, instead of through
// Request.ParseForm, so that repeated parameters can be refused and the
// query string is never a source of credentials.
func readTokenForm(w http.ResponseWriter, r *http.Request) (url.Values, *tokenError) {
	if r.URL.RawQuery != "" {
		return nil, invalidRequest("parameters must be sent in the request body, not the query string")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, invalidRequest("content type must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTokenRequestBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, &tokenError{status: http.StatusRequestEntityTooLarge, code: "invalid_request", description: "request body too large"}
		}
		return nil, invalidRequest("could not read the request body")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, invalidRequest("malformed form body")
	}
	// RFC 6749 3.2: parameters must not be included more than once.
	for name, values := range form {
		if len(values) > 1 {
			return nil, invalidRequest("parameter " + strconv.Quote(name) + " is repeated")
		}
	}
	return form, nil
}

// clientCredentials takes the client's id and secret from the Authorization
// header (client_secret_basic) or from the body (client_secret_post).
// Using both is refused. An empty parameter counts as absent (RFC 6749 3.2).
func clientCredentials(r *http.Request, form url.Values) (credentials, *tokenError) {
	authz := r.Header.Values("Authorization")
	bodyID, bodySecret := form.Get("client_id"), form.Get("client_secret")
	if len(authz) == 0 {
		return credentials{Request: clientauth.Request{ClientID: bodyID, Secret: bodySecret}}, nil
	}
	if len(authz) > 1 {
		return credentials{}, invalidRequest("Authorization header is repeated")
	}
	if bodySecret != "" {
		return credentials{}, invalidRequest("use one client authentication method, not both")
	}
	id, sec, ok := parseBasic(authz[0])
	if !ok {
		// Fails authentication like any other bad credentials.
		why := "malformed Basic header"
		if scheme, _, _ := strings.Cut(authz[0], " "); !strings.EqualFold(scheme, "Basic") {
			why = "Authorization scheme is not Basic"
		}
		return credentials{Request: clientauth.Request{Basic: true}, unreadable: why}, nil
	}
	// A client may name itself in the body too (RFC 6749 3.2.1), but not as
	// someone else.
	if bodyID != "" && bodyID != id {
		return credentials{}, invalidRequest("client_id does not match the Authorization header")
	}
	return credentials{Request: clientauth.Request{ClientID: id, Secret: sec, Basic: true}}, nil
}

// failureReason names, for the log, why cred failed authentication: known
// says whether its id is registered, method is the one that ran (nil if
// none did) and err is its failure. The phrases are fixed so that logs can
// be counted by them.
func failureReason(cred credentials, known bool, method clientauth.Method, err error) string {
	switch {
	case cred.unreadable != "":
		return cred.unreadable
	case cred.ClientID == "" && cred.Secret == "" && len(cred.Certificates) == 0:
		return "no client credentials"
	case cred.ClientID == "":
		return "no client_id"
	case !registry.ValidCredential(cred.ClientID):
		return "implausible client_id"
	case !known:
		return "unknown client"
	case errors.Is(err, clientauth.Unregistered) && method != nil:
		return method.Name() + " not registered for this client"
	default:
		return err.Error()
	}
}

// parseBasic decodes "Basic base64(urlencode(id):urlencode(secret))" as
// RFC 6749 2.3.1 requires, which is not what Request.BasicAuth does.
func parseBasic(header string) (id, secret string, ok bool) {
	scheme, payload, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
	if err != nil {
		return "", "", false
	}
	encID, encSecret, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(encID)
	secret, err2 := url.QueryUnescape(encSecret)
	if err1 != nil || err2 != nil {
		return "", "", false
	}
	return id, secret, true
}

// grantedScopes checks the requested space-delimited scopes against the
// client's allowed scopes; with none requested it grants all of them. An
// allowed scope needs no syntax check: the registry refuses a configuration
// whose scopes are not RFC 6749 scope-tokens.
func grantedScopes(client registry.Client, requested string) ([]string, *tokenError) {
	var scopes []string
	for s := range strings.SplitSeq(requested, " ") {
		if s == "" || slices.Contains(scopes, s) {
			continue
		}
		if !client.AllowsScope(s) {
			return nil, &tokenError{status: http.StatusBadRequest, code: "invalid_scope", description: "scope " + strconv.Quote(s) + " is not allowed for this client"}
		}
		scopes = append(scopes, s)
	}
	if len(scopes) == 0 {
		return slices.Clone(client.AllowedScopes), nil
	}
	return scopes, nil
}

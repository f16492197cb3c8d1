package walkthrough

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
)

// maxBody bounds what the walkthrough reads of any answer.
const maxBody = 1 << 20

func (w *walker) callWithoutToken(ctx context.Context) error {
	u := w.cfg.API + "/api/values"
	w.printf("   GET %s\n", u)
	resp, _, err := w.do(ctx, http.MethodGet, u, nil, nil)
	if err != nil {
		return err
	}
	w.res.NoTokenStatus = resp.StatusCode
	w.res.NoTokenChallenge = resp.Header.Get("WWW-Authenticate")
	w.printf("   -> %s\n   WWW-Authenticate: %s\n", resp.Status, w.res.NoTokenChallenge)
	if resp.StatusCode != http.StatusUnauthorized {
		return deviation("got status %d without a token, want 401", resp.StatusCode)
	}
	if !strings.HasPrefix(strings.ToLower(w.res.NoTokenChallenge), "bearer") {
		return deviation("got WWW-Authenticate %q, want a Bearer challenge", w.res.NoTokenChallenge)
	}
	w.printf("   The API is protected: without a token it answers 401 and asks for a Bearer token.\n")
	w.printf("   Why: a request with no credentials at all gets a bare challenge, without an error code\n" +
		"   (RFC 6750 section 3.1): it says what to bring, nothing more.\n")
	return nil
}

func (w *walker) readDiscovery(ctx context.Context) error {
	u := w.cfg.Authority + "/.well-known/openid-configuration"
	w.printf("   GET %s\n", u)
	resp, body, err := w.do(ctx, http.MethodGet, u, nil, nil)
	if err != nil {
		return err
	}
	w.printf("   -> %s\n", resp.Status)
	if resp.StatusCode != http.StatusOK {
		return deviation("got status %d for the discovery document, want 200", resp.StatusCode)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return deviation("discovery document is not JSON: %v", err)
	}
	w.res.Discovery = doc
	w.printf("%s\n", indent(body))
	issuer, _ := doc["issuer"].(string)
	tokenEndpoint, _ := doc["token_endpoint"].(string)
	jwksURI, _ := doc["jwks_uri"].(string)
	if issuer == "" || tokenEndpoint == "" || jwksURI == "" {
		return deviation("discovery lacks issuer, token_endpoint or jwks_uri")
	}
	if !containsString(doc["grant_types_supported"], "client_credentials") {
		return deviation("discovery does not list the client_credentials grant")
	}
	if w.tokenEndpoint, err = w.reachable(tokenEndpoint); err != nil {
		return err
	}
	if w.jwksURI, err = w.reachable(jwksURI); err != nil {
		return err
	}
	w.printf("   The token endpoint is %s and the signing keys are at %s.\n", tokenEndpoint, jwksURI)
	w.printf("   Why: clients and APIs read these URLs from discovery instead of hard-coding them, so the server\n" +
		"   can move an endpoint or publish new keys without breaking them; valuesapi finds its keys this way too.\n")
	return nil
}

// reachable returns the advertised endpoint as this client can reach it. Inside docker compose the issuer
// is http://authserver:44364, a name only the containers resolve; a client on the host reaches the same
// server through the URL it was given, so the path is kept and the origin replaced.
func (w *walker) reachable(advertised string) (string, error) {
	adv, err := url.Parse(advertised)
	if err != nil || adv.Host == "" {
		return "", deviation("advertised endpoint %q is not an absolute URL", advertised)
	}
	base, err := url.Parse(w.cfg.Authority)
	if err != nil {
		return "", fmt.Errorf("parsing authority: %w", err)
	}
	if adv.Scheme == base.Scheme && adv.Host == base.Host {
		return advertised, nil
	}
	adv.Scheme, adv.Host = base.Scheme, base.Host
	w.printf("   Note: the server advertises %s, which is named for its own network; this client reaches it as %s.\n",
		advertised, adv.String())
	return adv.String(), nil
}

func (w *walker) requestToken(ctx context.Context) error {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {w.cfg.ClientID},
		"client_secret": {w.cfg.ClientSecret},
	}
	if w.cfg.Scope != "" {
		form.Set("scope", w.cfg.Scope)
	}
	w.printf("   POST %s\n   Content-Type: application/x-www-form-urlencoded\n", w.tokenEndpoint)
	w.printf("   grant_type=client_credentials  client_id=%s  client_secret=%s", w.cfg.ClientID, mask(w.cfg.ClientSecret))
	if w.cfg.Scope != "" {
		w.printf("  scope=%s", w.cfg.Scope)
	}
	w.printf("\n")
	resp, body, err := w.do(ctx, http.MethodPost, w.tokenEndpoint, strings.NewReader(form.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if err != nil {
		return err
	}
	w.printf("   -> %s\n", resp.Status)
	if resp.StatusCode != http.StatusOK {
		return deviation("got status %d from the token endpoint, want 200: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return deviation("token response is not JSON: %v", err)
	}
	w.res.Token, w.res.TokenType, w.res.ExpiresIn, w.res.Scope = tr.AccessToken, tr.TokenType, tr.ExpiresIn, tr.Scope
	w.printf("   token_type=%s  expires_in=%d  scope=%q\n   access_token:\n%s\n",
		tr.TokenType, tr.ExpiresIn, tr.Scope, tr.AccessToken)
	switch {
	case tr.AccessToken == "":
		return deviation("token response has no access_token")
	case !strings.EqualFold(tr.TokenType, "Bearer"):
		return deviation("got token_type %q, want Bearer", tr.TokenType)
	case tr.ExpiresIn <= 0:
		return deviation("got expires_in %d, want a positive lifetime", tr.ExpiresIn)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		return deviation("got Cache-Control %q on a token response, want no-store", cc)
	}
	w.printf("   The server authenticated the client and issued an access token.\n")
	w.printf("   Why: client credentials is the machine-to-machine grant: no user signs in, the client proves who it is\n" +
		"   with its secret, and the secret goes only to the token endpoint, never to the API.\n")
	return nil
}

func (w *walker) callWithToken(ctx context.Context) error {
	u := w.cfg.API + "/api/values"
	w.printf("   GET %s\n   Authorization: Bearer %s\n", u, abbreviate(w.res.Token))
	resp, body, err := w.do(ctx, http.MethodGet, u, nil, http.Header{"Authorization": {"Bearer " + w.res.Token}})
	if err != nil {
		return err
	}
	w.res.ValuesStatus = resp.StatusCode
	w.printf("   -> %s\n   %s\n", resp.Status, strings.TrimSpace(string(body)))
	if resp.StatusCode != http.StatusOK {
		return deviation("got status %d with the token, want 200 (WWW-Authenticate: %s)",
			resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if err := json.Unmarshal(body, &w.res.Values); err != nil {
		return deviation("values are not a JSON string array: %v", err)
	}
	if want := []string{"value1", "value2"}; !slices.Equal(w.res.Values, want) {
		return deviation("got values %q, want %q", w.res.Values, want)
	}
	w.printf("   With the token the API answers, just as in the article.\n")
	w.printf("   Why the authserver was not asked: valuesapi verified the token locally, with the public keys it fetched\n" +
		"   from the JWKS and caches, so a request costs no round trip to the authserver.\n")
	return nil
}

func (w *walker) do(ctx context.Context, method, u string, body io.Reader, h http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, nil, fmt.Errorf("building request: %w", err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := w.client.Do(req)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return nil, nil, fmt.Errorf("%s %s: %w: %w", method, u, ErrNotListening, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, fmt.Errorf("reading answer of %s %s: %w", method, u, err)
	}
	return resp, b, nil
}

func containsString(v any, want string) bool {
	list, _ := v.([]any)
	for _, x := range list {
		if s, _ := x.(string); s == want {
			return true
		}
	}
	return false
}

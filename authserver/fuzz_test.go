package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenbearer/authserver/internal/registry"
)

// invalidClientBody is the one body of every 401.
const invalidClientBody = `{"error":"invalid_client","error_description":"client authentication failed"}`

// checkTokenResponse asserts what holds for any answer of the token
// endpoint: never 500, JSON, no-store, and a 401 that tells nothing apart.
func checkTokenResponse(t *testing.T, rec *httptest.ResponseRecorder, sentAuthorization bool) map[string]any {
	t.Helper()
	body := rec.Body.Bytes()
	switch rec.Code {
	case 200, 400, 401, 405, 413:
	default:
		t.Fatalf("status %d %s", rec.Code, body)
	}
	if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Pragma") != "no-cache" {
		t.Fatalf("status %d without no-store headers: %v", rec.Code, rec.Header())
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", body, err)
	}
	if rec.Code == 200 {
		if tok, _ := got["access_token"].(string); strings.Count(tok, ".") != 2 || got["token_type"] != "Bearer" {
			t.Fatalf("200 without a token: %s", body)
		}
		return got
	}
	if code, _ := got["error"].(string); code == "" || got["access_token"] != nil {
		t.Fatalf("error response %s", body)
	}
	if rec.Code == 401 {
		if string(body) != invalidClientBody {
			t.Fatalf("401 body %s, want %s", body, invalidClientBody)
		}
		if www := rec.Header().Get("WWW-Authenticate"); (www == basicRealm) != sentAuthorization {
			t.Fatalf("401 with WWW-Authenticate %q, Authorization sent: %v", www, sentAuthorization)
		}
	}
	return got
}

// FuzzTokenRequest sends arbitrary requests through the whole handler:
// routing, middleware, form parsing and client authentication.
func FuzzTokenRequest(f *testing.F) {
	good := "grant_type=client_credentials"
	apiBasic := basicHeader("ApiClient", "secret")
	for _, seed := range []struct{ method, query, contentType, authorization, body string }{
		{"POST", "", formType, apiBasic, good},
		{"POST", "", formType, "", good + "&client_id=ApiClient&client_secret=secret"},
		{"POST", "", formType + "; charset=UTF-8", basicHeader(specialID, specialSecret), good + "&scope=auth.web.api"},
		{"POST", "client_id=ApiClient&client_secret=secret", formType, "", good},
		{"POST", "", "application/json", apiBasic, `{"grant_type":"client_credentials"}`},
		{"POST", "", "multipart/form-data; boundary=x", apiBasic, good},
		{"POST", "", formType + "; charset", apiBasic, good},
		{"POST", "", formType, apiBasic, good + "&grant_type=client_credentials"},
		{"POST", "", formType, apiBasic, "grant_type=%zz;x=1"},
		{"POST", "", formType, apiBasic, good + "&client_secret=secret"},
		{"POST", "", formType, "Basic !!!", good},
		{"POST", "", formType, "Basic " + base64.StdEncoding.EncodeToString([]byte("ApiClient")), good},
		{"POST", "", formType, "Basic " + base64.StdEncoding.EncodeToString([]byte("Api%zz:secret")), good},
		{"POST", "", formType, "Basic " + base64.StdEncoding.EncodeToString([]byte("\xff\x00:\x01")), good},
		{"POST", "", formType, "Bearer x.y.z", good},
		{"POST", "", formType, "", good + "&client_id=" + strings.Repeat("a", 101) + "&client_secret=%00"},
		{"POST", "", formType, apiBasic, good + "&scope=auth.web.api%09orders.read&scope="},
		{"POST", "", formType, apiBasic, "grant_type=password&username=u&password=p"},
		{"POST", "", formType, basicHeader("no-grant", "no-grant-secret"), good},
		{"POST", "", formType, apiBasic, good + "&pad=" + strings.Repeat("a", 64<<10)},
		{"GET", "", "", "", ""},
		{"PROPFIND", "", formType, apiBasic, good},
		{"", "", formType, apiBasic, good},
		{"post", "", formType, apiBasic, good},
	} {
		f.Add(seed.method, seed.query, seed.contentType, seed.authorization, seed.body)
	}
	h := newTestHandler(f, time.Hour)
	f.Fuzz(func(t *testing.T, method, query, contentType, authorization, body string) {
		req := httptest.NewRequest(http.MethodPost, "/connect/token", strings.NewReader(body))
		req.Method = method
		req.URL.RawQuery = query
		req.RemoteAddr = "192.0.2.1:1234"
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkTokenResponse(t, rec, authorization != "")
		if rec.Code == 200 && (method != http.MethodPost || query != "") {
			t.Fatalf("200 for method %q with query %q", method, query)
		}
	})
}

// FuzzClientAuthentication varies the credentials alone, in the Basic
// header and in the body, of an otherwise valid request.
func FuzzClientAuthentication(f *testing.F) {
	type seed struct{ authorization, clientID, clientSecret string }
	seeds := []seed{
		{basicHeader("ApiClient", "secret"), "", ""},
		{basicHeader("ApiClient", "secret"), "ApiClient", ""},
		{basicHeader("ApiClient", "secret"), "multi", ""},
		{basicHeader(specialID, specialSecret), "", ""},
		{"", "ApiClient", "secret"},
		{"", "multi", "old-multi-secret"},
		{"", specialID, specialSecret},
		{"", "ApiClient", "wrong"},
		{"", "nobody", "secret"},
		{"", "ApiClient", ""},
		{"", "", ""},
		{"", strings.Repeat("a", 101), "secret"},
		{"", "ApiClient\x00", "secret"},
		{"", "\xff", "secret"},
		{"Basic", "", ""},
		{"Basic ", "", ""},
		{"basic " + base64.StdEncoding.EncodeToString([]byte("ApiClient:secret")), "", ""},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("ApiClient:secret")) + "=", "", ""},
		{"Basic " + base64.RawStdEncoding.EncodeToString([]byte("ApiClient:secret")), "", ""},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("ApiClient")), "", ""},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte(":")), "", ""},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("a%:b")), "", ""},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("a+b:c%2Bd")), "", ""},
		{"Basic !!!", "", ""},
		{"Bearer abc", "", ""},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("ApiClient:secret")), "", "secret"},
	}
	for _, s := range seeds {
		f.Add(s.authorization, s.clientID, s.clientSecret)
	}
	known := map[[2]string]bool{
		{"ApiClient", "secret"}: true, {"multi", "old-multi-secret"}: true, {"multi", "multi-secret"}: true,
		{specialID, specialSecret}: true, {"no-grant", "no-grant-secret"}: true,
	}
	h := newTestHandler(f, time.Hour)
	f.Fuzz(func(t *testing.T, authorization, clientID, clientSecret string) {
		// The Basic encoding of RFC 6749 2.3.1 round-trips any id and secret.
		if id, sec, ok := parseBasic(basicHeader(clientID, clientSecret)); !ok || id != clientID || sec != clientSecret {
			t.Fatalf("parseBasic(basicHeader(%q, %q)) = %q, %q, %v", clientID, clientSecret, id, sec, ok)
		}

		form := url.Values{"grant_type": {"client_credentials"}}
		if clientID != "" {
			form.Set("client_id", clientID)
		}
		if clientSecret != "" {
			form.Set("client_secret", clientSecret)
		}
		req := httptest.NewRequest(http.MethodPost, "/connect/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", formType)
		req.RemoteAddr = "192.0.2.1:1234"
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := checkTokenResponse(t, rec, authorization != "")

		// What the answer must be, from the credentials actually presented.
		id, sec, basic := clientID, clientSecret, false
		if authorization != "" {
			bid, bsec, ok := parseBasic(authorization)
			if clientSecret != "" || ok && clientID != "" && clientID != bid {
				if rec.Code != 400 || got["error"] != "invalid_request" {
					t.Fatalf("Basic plus body %q/%q: %d %v, want 400 invalid_request", clientID, clientSecret, rec.Code, got)
				}
				return
			}
			id, sec, basic = bid, bsec, true // empty when malformed
		}
		valid := known[[2]string{id, sec}] && registry.ValidCredential(sec)
		switch {
		case valid && id == "no-grant":
			if rec.Code != 400 || got["error"] != "unauthorized_client" {
				t.Fatalf("%q: %d %v, want 400 unauthorized_client", id, rec.Code, got)
			}
		case valid:
			if rec.Code != 200 {
				t.Fatalf("valid credentials %q (basic %v): %d %v, want 200", id, basic, rec.Code, got)
			}
		case rec.Code != 401:
			t.Fatalf("credentials %q/%q (basic %v): %d %v, want 401", id, sec, basic, rec.Code, got)
		}
		if rec.Code == 200 && !slices.Contains([]string{"auth.web.api", "auth.web.api orders.read orders.write"}, got["scope"].(string)) {
			t.Fatalf("scope %v", got["scope"])
		}
	})
}

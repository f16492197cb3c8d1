package main

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeCPU is a server CPU clock that moves 1 ms on every reading.
func fakeCPU() func() (time.Duration, error) {
	var t time.Duration
	return func() (time.Duration, error) { t += time.Millisecond; return t, nil }
}

// everyThird answers 500 to every third request and 200 to the others.
func everyThird(hits *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1)%3 == 0 {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
}

func TestClosedLoopStopsAtTheCountAndCountsNon2xx(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(everyThird(&hits))
	defer srv.Close()
	e := endpoint{name: "GET /", method: http.MethodGet, url: srv.URL}
	r, err := closedLoop(context.Background(), []endpoint{e}, 4, 90, time.Minute, 5*time.Second, fakeCPU())
	if err != nil {
		t.Fatal(err)
	}
	if r.requests != 90 || hits.Load() != 90 {
		t.Errorf("requests %d, server saw %d, want 90 each", r.requests, hits.Load())
	}
	if r.errors != 30 || len(r.firstErrors) == 0 || !strings.Contains(r.firstErrors[0], "500") {
		t.Errorf("errors %d %q, want 30 with a 500", r.errors, r.firstErrors)
	}
	if r.serverCPU != time.Millisecond || r.stoppedByTime {
		t.Errorf("serverCPU %v stoppedByTime %v, want 1ms between the two readings and no time stop", r.serverCPU, r.stoppedByTime)
	}
}

func TestClosedLoopStopsAtTheTimeBound(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // every request outlives the bound
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer srv.Close()
	e := endpoint{name: "GET /", method: http.MethodGet, url: srv.URL}
	r, err := closedLoop(context.Background(), []endpoint{e}, 2, 1000, 50*time.Millisecond, 5*time.Second, fakeCPU())
	if err != nil {
		t.Fatal(err)
	}
	if !r.stoppedByTime || r.requests != 0 || r.errors != 0 {
		t.Errorf("stoppedByTime %v requests %d errors %d: a request cut by the bound is neither answered nor failed", r.stoppedByTime, r.requests, r.errors)
	}
}

func TestClosedLoopCountsTransportErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every connection is refused
	e := endpoint{name: "GET /", method: http.MethodGet, url: "http://" + addr}
	r, err := closedLoop(context.Background(), []endpoint{e}, 2, 10, time.Minute, 5*time.Second, fakeCPU())
	if err != nil {
		t.Fatal(err)
	}
	if r.requests != 10 || r.errors != 10 {
		t.Errorf("requests %d errors %d, want 10 refused and counted", r.requests, r.errors)
	}
}

func TestClosedLoopTakesTheEndpointsInTurn(t *testing.T) {
	var seen [2]atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "Bearer a":
			seen[0].Add(1)
		case "Bearer b":
			seen[1].Add(1)
		}
	}))
	defer srv.Close()
	es := []endpoint{valuesEndpoint(srv.URL, "a"), valuesEndpoint(srv.URL, "b")}
	if _, err := closedLoop(context.Background(), es, 3, 40, time.Minute, 5*time.Second, fakeCPU()); err != nil {
		t.Fatal(err)
	}
	if seen[0].Load() != 20 || seen[1].Load() != 20 {
		t.Errorf("tokens used %d and %d times, want 20 each", seen[0].Load(), seen[1].Load())
	}
}

// TestOpenLoopSmoke runs vegeta for a moment against a test server: bounded, counted, with quantiles.
func TestOpenLoopSmoke(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(everyThird(&hits))
	defer srv.Close()
	e := endpoint{name: "POST /", method: http.MethodPost, url: srv.URL, body: []byte("a=b"),
		header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}
	r := openLoop(context.Background(), []endpoint{e}, 200, 100*time.Millisecond, 5*time.Second, 4)
	if r.requests == 0 || int64(r.requests) != hits.Load() {
		t.Fatalf("requests %d, server saw %d, want the same, more than 0", r.requests, hits.Load())
	}
	// The count bound: 200/s for 0.1 s is 20, and one more for rounding.
	if r.requests > 21 {
		t.Errorf("requests %d, want at most 21", r.requests)
	}
	if want := r.requests / 3; r.errors != want {
		t.Errorf("errors %d, want %d (every third answer is a 500)", r.errors, want)
	}
	if r.p50 <= 0 || r.p99 < r.p50 || r.p999 < r.p99 {
		t.Errorf("quantiles p50 %v p99 %v p99.9 %v, want positive and ordered", r.p50, r.p99, r.p999)
	}
}

func TestIdleConnsStayOpen(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		hits.Add(1)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	var fails failures
	conns := idleConns(context.Background(), addr, "/healthz", 5, 5*time.Second, &fails)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if len(conns) != 5 || fails.count != 0 || hits.Load() != 5 {
		t.Errorf("kept %d conns, %d failures %q, %d requests; want 5, 0, 5", len(conns), fails.count, fails.first, hits.Load())
	}

	var notFound failures
	more := idleConns(context.Background(), addr, "/nope", 2, 5*time.Second, &notFound)
	if len(more) != 0 || notFound.count != 2 {
		t.Errorf("a 404 kept %d conns with %d failures, want 0 and 2", len(more), notFound.count)
	}
}

func TestFetchTokenReadsTheAlg(t *testing.T) {
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"at+jwt"}`))
	var form string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		form = r.PostForm.Encode()
		_, _ = io.WriteString(w, `{"access_token":"`+header+`.e30.c2ln","token_type":"Bearer"}`)
	}))
	defer srv.Close()
	tok, alg, err := fetchToken(context.Background(), srv.Client(), tokenEndpoint(srv.URL, "ApiClient", "secret", "auth.web.api"))
	if err != nil || alg != "RS256" || !strings.HasPrefix(tok, header+".") {
		t.Errorf("got %q %q %v, want the token and RS256", tok, alg, err)
	}
	// client_secret_post: the credentials are in the body.
	if want := "client_id=ApiClient&client_secret=secret&grant_type=client_credentials&scope=auth.web.api"; form != want {
		t.Errorf("form %q, want %q", form, want)
	}
	for _, bad := range []string{"", "nodots", "!!!.e30.x", base64.RawURLEncoding.EncodeToString([]byte("[")) + ".e30.x"} {
		if _, err := headerAlg(bad); err == nil {
			t.Errorf("headerAlg(%q): got no error", bad)
		}
	}
}

// TestEveryAlgorithmSignsAndVerifies is what each benchmark loop does, once per row.
func TestEveryAlgorithmSignsAndVerifies(t *testing.T) {
	for _, a := range algorithms {
		if _, err := prepare(a); err != nil {
			t.Errorf("%s: %v", a.name, err)
		}
	}
	if _, err := prepare(algorithm{name: "nope"}); err == nil {
		t.Error("an unknown alg: got no error")
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// endpoint is one kind of valid request: how to make it for net/http and for vegeta.
type endpoint struct {
	name   string
	method string
	url    string
	header http.Header
	body   []byte
}

func (e endpoint) request(ctx context.Context) (*http.Request, error) {
	var body io.Reader
	if len(e.body) > 0 {
		body = bytes.NewReader(e.body)
	}
	req, err := http.NewRequestWithContext(ctx, e.method, e.url, body)
	if err != nil {
		return nil, err
	}
	for k, v := range e.header {
		req.Header[k] = v
	}
	return req, nil
}

// tokenEndpoint is a client_credentials request authenticated with client_secret_post.
func tokenEndpoint(authURL, clientID, clientSecret, scope string) endpoint {
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}, "scope": {scope},
	}
	return endpoint{
		name: "POST /connect/token", method: http.MethodPost, url: authURL + "/connect/token",
		header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, body: []byte(form.Encode()),
	}
}

func valuesEndpoint(apiURL, token string) endpoint {
	return endpoint{
		name: "GET /api/values", method: http.MethodGet, url: apiURL + "/api/values",
		header: http.Header{"Authorization": {"Bearer " + token}},
	}
}

func healthzEndpoint(apiURL string) endpoint {
	return endpoint{name: "GET /healthz (valuesapi)", method: http.MethodGet, url: apiURL + "/healthz"}
}

// failures counts answers that are not 2xx and transport errors, and keeps the first few for the report.
type failures struct {
	mu    sync.Mutex
	count int
	first []string
}

func (f *failures) add(what string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count++
	if len(f.first) < 3 {
		f.first = append(f.first, what)
	}
}

// check records resp/err as a failure unless it is a 2xx answer. It drains and closes the body so the connection
// is reused.
func (f *failures) check(resp *http.Response, err error) bool {
	if err != nil {
		f.add(err.Error())
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		f.add(resp.Status)
		return false
	}
	return true
}

// closedResult is one closed-loop phase: every worker sends its next request as soon as the last one is answered.
type closedResult struct {
	name          string
	workers       int
	requests      int // answered or failed
	errors        int
	firstErrors   []string
	elapsed       time.Duration
	serverCPU     time.Duration // of the serving process over the phase
	stoppedByTime bool
	roundCPU      []float64 // µs per request of each round, when combine made this of several
}

// rate is requests per second of wall time.
func (r closedResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// cpuPerRequest is the serving process's CPU time per request in µs: the median of the rounds when there were
// several, since other work on a shared machine raises one round's number rather than all of them.
func (r closedResult) cpuPerRequest() float64 {
	if len(r.roundCPU) > 0 {
		return median(r.roundCPU)
	}
	if r.requests == 0 {
		return math.NaN()
	}
	return float64(r.serverCPU.Nanoseconds()) / 1e3 / float64(r.requests)
}

// combine sums rounds of one phase and keeps each round's CPU per request for the median.
func combine(rounds []closedResult) closedResult {
	if len(rounds) == 0 {
		return closedResult{}
	}
	c := closedResult{name: rounds[0].name, workers: rounds[0].workers}
	for _, r := range rounds {
		c.requests += r.requests
		c.errors += r.errors
		c.elapsed += r.elapsed
		c.serverCPU += r.serverCPU
		c.stoppedByTime = c.stoppedByTime || r.stoppedByTime
		if len(c.firstErrors) < 3 {
			c.firstErrors = append(c.firstErrors, r.firstErrors...)
		}
		c.roundCPU = append(c.roundCPU, r.cpuPerRequest())
	}
	return c
}

// median of xs; NaN when any is NaN (a round that measured nothing), so that a missing measurement fails its target.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	if len(s) == 0 || slices.ContainsFunc(s, math.IsNaN) {
		return math.NaN()
	}
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// newClient keeps up to conns idle connections, so that a phase measures requests, not TCP handshakes (the
// default keeps two).
func newClient(conns int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: conns,
			MaxIdleConns:        conns,
			IdleConnTimeout:     30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// closedLoop sends up to maxRequests with workers concurrent clients for at most maxDuration, taking es in turn
// (all of one kind, such as one GET with different tokens), and reads the server's CPU time (cpu) before and
// after. It stops by itself at whichever bound comes first.
func closedLoop(ctx context.Context, es []endpoint, workers, maxRequests int, maxDuration, timeout time.Duration, cpu func() (time.Duration, error)) (closedResult, error) {
	client := newClient(workers, timeout)
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, maxDuration)
	defer cancel()
	var claimed atomic.Int64
	var fails failures
	var stoppedByTime atomic.Bool

	cpu0, err := cpu()
	if err != nil {
		return closedResult{}, fmt.Errorf("reading server CPU: %w", err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	var done atomic.Int64
	for range workers {
		wg.Go(func() {
			for n := claimed.Add(1); n <= int64(maxRequests); n = claimed.Add(1) {
				if ctx.Err() != nil {
					stoppedByTime.Store(true)
					return
				}
				req, err := es[n%int64(len(es))].request(ctx)
				if err != nil {
					fails.add(err.Error())
					done.Add(1)
					continue
				}
				resp, err := client.Do(req)
				if err != nil && ctx.Err() != nil {
					// The time bound cut this request short; it was neither answered nor refused.
					stoppedByTime.Store(true)
					return
				}
				fails.check(resp, err)
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, err := cpu()
	if err != nil {
		return closedResult{}, fmt.Errorf("reading server CPU: %w", err)
	}
	return closedResult{
		name: es[0].name, workers: workers, requests: int(done.Load()), errors: fails.count, firstErrors: fails.first,
		elapsed: elapsed, serverCPU: cpu1 - cpu0, stoppedByTime: stoppedByTime.Load(),
	}, nil
}

// openResult is one open-loop phase: requests sent at a constant rate whatever the answers' latency.
type openResult struct {
	name                string
	rate                float64 // asked for, per second
	achieved            float64 // vegeta's Metrics.Rate
	requests, errors    int
	firstErrors         []string
	p50, p99, p999, max time.Duration
}

// countedPacer is vegeta's constant pacer that also stops after max hits, so the phase is bounded in count as
// well as in time.
type countedPacer struct {
	vegeta.ConstantPacer
	max uint64
}

func (p countedPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if hits >= p.max {
		return 0, true
	}
	return p.ConstantPacer.Pace(elapsed, hits)
}

// openLoop attacks es (taken in turn) with vegeta at rate per second for duration. Latency quantiles come from vegeta's Metrics;
// failures are counted here because Metrics counts 3xx as success.
func openLoop(ctx context.Context, es []endpoint, rate float64, duration, timeout time.Duration, maxWorkers int) openResult {
	// vegeta's pacer takes whole hits per period: a per-10 s frequency keeps a tenth of a request per second.
	pacer := countedPacer{
		ConstantPacer: vegeta.ConstantPacer{Freq: max(1, int(math.Round(rate*10))), Per: 10 * time.Second},
		max:           uint64(math.Ceil(rate*duration.Seconds())) + 1,
	}
	attacker := vegeta.NewAttacker(
		vegeta.Timeout(timeout),
		vegeta.Redirects(vegeta.NoFollow),
		vegeta.MaxBody(0),
		vegeta.Workers(uint64(min(maxWorkers, 16))),
		vegeta.MaxWorkers(uint64(maxWorkers)),
		vegeta.KeepAlive(true),
	)
	targets := make([]vegeta.Target, len(es))
	for i, e := range es {
		targets[i] = vegeta.Target{Method: e.method, URL: e.url, Header: e.header, Body: e.body}
	}
	stop := context.AfterFunc(ctx, func() { attacker.Stop() })
	defer stop()
	var m vegeta.Metrics
	var fails failures
	for res := range attacker.Attack(vegeta.NewStaticTargeter(targets...), pacer, duration, es[0].name) {
		m.Add(res)
		switch {
		case res.Error != "" && (res.Code < 200 || res.Code > 299):
			fails.add(res.Error)
		case res.Code < 200 || res.Code > 299:
			fails.add(fmt.Sprintf("status %d", res.Code))
		}
	}
	m.Close()
	return openResult{
		name: es[0].name, rate: rate, achieved: m.Rate, requests: int(m.Requests), errors: fails.count,
		firstErrors: fails.first,
		p50:         m.Latencies.P50, p99: m.Latencies.P99, p999: m.Latencies.Quantile(0.999), max: m.Latencies.Max,
	}
}

// idleConns opens n TCP connections to addr, sends one keep-alive GET path on each and leaves them open and idle.
// It returns the connections that the server kept (the caller closes them) and counts every other one as a failure.
func idleConns(ctx context.Context, addr, path string, n int, timeout time.Duration, fails *failures) []net.Conn {
	dialer := net.Dialer{Timeout: timeout}
	request := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: bench\r\n\r\n"
	conns := make([]net.Conn, 0, n)
	for range n {
		if ctx.Err() != nil {
			fails.add(ctx.Err().Error())
			break
		}
		c, err := dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			fails.add(err.Error())
			continue
		}
		if err := oneRequest(c, request, timeout); err != nil {
			fails.add(err.Error())
			c.Close()
			continue
		}
		conns = append(conns, c)
	}
	return conns
}

// oneRequest writes the request and reads a whole 2xx answer that leaves the connection open.
func oneRequest(c net.Conn, request string, timeout time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, request); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %s", resp.Status)
	}
	if resp.Close {
		return fmt.Errorf("server closed the keep-alive connection")
	}
	return c.SetDeadline(time.Time{})
}

// fetchToken asks for a token with client_secret_post and returns it with the alg of its header.
func fetchToken(ctx context.Context, client *http.Client, e endpoint) (token, alg string, err error) {
	req, err := e.request(ctx)
	if err != nil {
		return "", "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("token request: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", "", fmt.Errorf("token request: status %s: %s", resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", "", fmt.Errorf("token response: %w", err)
	}
	alg, err = headerAlg(body.AccessToken)
	return body.AccessToken, alg, err
}

// headerAlg reads "alg" from a compact JWS without checking anything else.
func headerAlg(token string) (string, error) {
	head, _, ok := strings.Cut(token, ".")
	if !ok {
		return "", fmt.Errorf("token is not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "", fmt.Errorf("token header: %w", err)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", fmt.Errorf("token header: %w", err)
	}
	return h.Alg, nil
}

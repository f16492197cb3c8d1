package main

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// passing is a report that meets every target.
func passing() report {
	return report{
		machine:  "machine: test",
		signs:    []signResult{{alg: "RS256", key: "RSA-2048", sign: 900 * time.Microsecond, signCPU: time.Millisecond, verify: 40 * time.Microsecond, verifyCPU: 41 * time.Microsecond}},
		tokenAlg: "RS256",
		token:    closedResult{name: "POST /connect/token", workers: 4, requests: 1000, elapsed: time.Second, serverCPU: 1050 * time.Millisecond},
		values:   closedResult{name: "GET /api/values", requests: 1000, elapsed: time.Second, serverCPU: 60 * time.Millisecond},
		open:     closedResult{name: "GET /healthz", requests: 1000, elapsed: time.Second, serverCPU: 50 * time.Millisecond},
		openToken: openResult{name: "POST /connect/token", rate: 500, requests: 5000, p50: 2 * time.Millisecond,
			p99: 9 * time.Millisecond},
		openValues: openResult{name: "GET /api/values", rate: 5000, requests: 50000, p99: 1500 * time.Microsecond},
		mem:        memResult{authIdleKiB: 14 << 10, apiIdleKiB: 12 << 10, conns: 1000, connsBaseKiB: 12 << 10, connsKiB: 12<<10 + 20000},
	}
}

func TestTargets(t *testing.T) {
	tests := []struct {
		name       string
		change     func(*report)
		wantMissed []string
	}{
		{name: "all met", change: func(*report) {}},
		{name: "token CPU over", change: func(r *report) { r.token.serverCPU = 1110 * time.Millisecond }, wantMissed: []string{"token CPU / RS256 sign"}},
		{name: "token CPU at the limit", change: func(r *report) { r.token.serverCPU = 1100 * time.Millisecond }},
		{name: "no sign row for the server's alg", change: func(r *report) { r.tokenAlg = "ES256" }, wantMissed: []string{"token CPU / ES256 sign"}},
		{name: "values CPU over", change: func(r *report) { r.values.serverCPU = 66 * time.Millisecond }, wantMissed: []string{"values CPU / open route CPU"}},
		{name: "open route measured nothing", change: func(r *report) { r.open.requests = 0 }, wantMissed: []string{"values CPU / open route CPU"}},
		{name: "token p99", change: func(r *report) { r.openToken.p99 = 10100 * time.Microsecond }, wantMissed: []string{"token p99 at 50% of max"}},
		{name: "values p99", change: func(r *report) { r.openValues.p99 = 2001 * time.Microsecond }, wantMissed: []string{"values p99 at 50% of max"}},
		{name: "idle RSS of the larger service", change: func(r *report) { r.mem.authIdleKiB = 21 << 10 }, wantMissed: []string{"idle RSS, larger service"}},
		{name: "per connection", change: func(r *report) { r.mem.connsKiB = r.mem.connsBaseKiB + 26000 }, wantMissed: []string{"RSS per idle keep-alive conn"}},
		{name: "no connection held", change: func(r *report) { r.mem.conns = 0 }, wantMissed: []string{"RSS per idle keep-alive conn"}},
		{name: "one non-2xx", change: func(r *report) { r.openValues.errors = 1 }, wantMissed: []string{"non-2xx and transport errors"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := passing()
			tt.change(&r)
			var missed []string
			for _, tg := range r.targets() {
				if !tg.ok() {
					missed = append(missed, tg.name)
					if !strings.HasPrefix(tg.result(), "MISSED (") {
						t.Errorf("%s: result %q, want MISSED with the value", tg.name, tg.result())
					}
				}
			}
			if strings.Join(missed, ",") != strings.Join(tt.wantMissed, ",") {
				t.Errorf("missed %q, want %q", missed, tt.wantMissed)
			}
		})
	}
}

func TestErrorsCountEveryPhase(t *testing.T) {
	r := passing()
	r.token.errors, r.values.errors, r.open.errors, r.openToken.errors, r.openValues.errors, r.otherErrors = 1, 2, 3, 4, 5, 6
	if got := r.errors(); got != 21 {
		t.Errorf("got %d, want 21", got)
	}
}

// lastLineFields parses the last line into its keys, in order, and values.
func lastLineFields(t *testing.T, line string) ([]string, map[string]string) {
	t.Helper()
	var keys []string
	values := map[string]string{}
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || v == "" {
			t.Fatalf("field %q of %q is not key=value", f, line)
		}
		keys = append(keys, k)
		values[k] = v
	}
	return keys, values
}

func TestPrintEndsWithTheMachineReadableLine(t *testing.T) {
	wantKeys := "token_cpu_over_sign values_cpu_over_open token_p99_ms values_p99_ms idle_rss_mb errors"
	for _, tt := range []struct {
		name       string
		change     func(*report)
		wantErr    bool
		wantErrors string
	}{
		{name: "all met", change: func(*report) {}, wantErrors: "0"},
		{name: "non-2xx answers", change: func(r *report) { r.values.errors, r.otherErrors = 2, 1 }, wantErr: true, wantErrors: "3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := passing()
			tt.change(&r)
			var out bytes.Buffer
			err := r.print(&out)
			if got := errors.Is(err, errTargetsMissed); got != tt.wantErr {
				t.Fatalf("print returned %v, want errTargetsMissed %v", err, tt.wantErr)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			last := lines[len(lines)-1]
			keys, values := lastLineFields(t, last)
			if strings.Join(keys, " ") != wantKeys {
				t.Errorf("keys %q, want %q", keys, wantKeys)
			}
			if values["errors"] != tt.wantErrors {
				t.Errorf("errors=%s, want %s", values["errors"], tt.wantErrors)
			}
			for _, k := range keys {
				if _, err := strconv.ParseFloat(values[k], 64); err != nil {
					t.Errorf("%s=%s is not a number", k, values[k])
				}
			}
			if values["token_cpu_over_sign"] != "1.05" || values["idle_rss_mb"] != "14" || values["token_p99_ms"] != "9" {
				t.Errorf("last line %q, want token_cpu_over_sign=1.05 idle_rss_mb=14 token_p99_ms=9", last)
			}
			if tt.wantErr && !strings.Contains(out.String(), "MISSED") {
				t.Errorf("report does not say MISSED:\n%s", out.String())
			}
			if strings.Count(out.String(), "token_cpu_over_sign=") != 1 {
				t.Errorf("the machine-readable line appears more than once:\n%s", out.String())
			}
		})
	}
}

func TestNum(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		want string
	}{
		{math.NaN(), "n/a"}, {math.Inf(1), "n/a"}, {0, "0"}, {14, "14"}, {1.0512, "1.05"}, {0.8, "0.80"},
		{12.345, "12.3"}, {1835.6, "1836"},
	} {
		if got := num(tt.v); got != tt.want {
			t.Errorf("num(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestCombineTakesTheMedianRound(t *testing.T) {
	rounds := []closedResult{
		{name: "GET /", workers: 2, requests: 100, errors: 1, elapsed: time.Second, serverCPU: 5 * time.Millisecond},  // 50 µs
		{name: "GET /", workers: 2, requests: 100, elapsed: time.Second, serverCPU: 9 * time.Millisecond},             // 90 µs, a noisy round
		{name: "GET /", workers: 2, requests: 200, errors: 2, elapsed: time.Second, serverCPU: 12 * time.Millisecond}, // 60 µs
	}
	c := combine(rounds)
	if c.requests != 400 || c.errors != 3 || c.elapsed != 3*time.Second || c.rate() != 400.0/3 {
		t.Errorf("got %d requests, %d errors, %v, %v/s; want the sums", c.requests, c.errors, c.elapsed, c.rate())
	}
	if got := c.cpuPerRequest(); got != 60 {
		t.Errorf("cpuPerRequest = %v, want the median round, 60", got)
	}
	rounds[1].requests = 0
	if got := combine(rounds).cpuPerRequest(); !math.IsNaN(got) {
		t.Errorf("a round without requests: got %v, want NaN", got)
	}
	if got := median([]float64{1, 4, 2, 3}); got != 2.5 {
		t.Errorf("median of an even count = %v, want 2.5", got)
	}
}

// TestTokenRatioPairsEachRound: each round's token CPU is compared with the signature measured beside it, so a
// machine that slows down between rounds moves both sides of a ratio together.
func TestTokenRatioPairsEachRound(t *testing.T) {
	r := passing()
	r.token.roundCPU = []float64{1050, 1500, 1100} // the second round ran on a busier machine...
	r.roundSignCPU = []float64{1000, 1450, 1000}   // ...and so did its signature
	if got := r.tokenCPUOverSign(); math.Abs(got-1.05) > 1e-9 {
		t.Errorf("got %v, want the median round ratio 1.05", got)
	}
	r.values.roundCPU, r.open.roundCPU = []float64{60, 130, 66}, []float64{50, 100, 60}
	if got := r.valuesCPUOverOpen(); math.Abs(got-1.2) > 1e-9 {
		t.Errorf("values over open: got %v, want the median round ratio 1.2", got)
	}
	r.roundSignCPU = r.roundSignCPU[:2] // rounds that do not pair up fall back to the first measurement
	if got, want := r.tokenCPUOverSign(), 1100.0/1000; math.Abs(got-want) > 1e-9 {
		t.Errorf("got %v, want %v", got, want)
	}
}

package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// errTargetsMissed is returned after the report says which target was missed or which request failed.
var errTargetsMissed = errors.New("targets missed")

// memResult is what the services hold in memory.
type memResult struct {
	authIdleKiB, apiIdleKiB int64
	conns                   int   // idle keep-alive connections held open to valuesapi
	connsBaseKiB            int64 // valuesapi's RSS just before they were opened
	connsKiB                int64 // and with them open
}

// perConnKiB is the RSS growth per idle keep-alive connection.
func (m memResult) perConnKiB() float64 {
	if m.conns == 0 {
		return math.NaN()
	}
	return float64(m.connsKiB-m.connsBaseKiB) / float64(m.conns)
}

// idleRSSMiB is the larger idle RSS of the two services.
func (m memResult) idleRSSMiB() float64 { return float64(max(m.authIdleKiB, m.apiIdleKiB)) / 1024 }

// report is everything one run measured.
type report struct {
	machine  string
	signs    []signResult
	tokenAlg string // the alg of the tokens authserver issued, whose sign row the token CPU is compared with

	token, values, open   closedResult
	openToken, openValues openResult
	mem                   memResult
	openFraction          float64
	otherErrors           int // warm-up and the idle connections' requests
	otherFirstErrors      []string
	valuesTokens          int
	loadBefore, loadAfter string    // /proc/loadavg
	roundSignCPU          []float64 // µs of CPU per signature with tokenAlg, measured beside each round's token phase
}

// errors counts every non-2xx answer and transport error of every phase.
func (r report) errors() int {
	return r.token.errors + r.values.errors + r.open.errors + r.openToken.errors + r.openValues.errors + r.otherErrors
}

// signFor returns the sign row of alg.
func (r report) signFor(alg string) (signResult, bool) {
	for _, s := range r.signs {
		if s.alg == alg {
			return s, true
		}
	}
	return signResult{}, false
}

// ratio is a/b, NaN when either is missing, so that a missing measurement fails its target instead of passing it.
func ratio(a, b float64) float64 {
	if b <= 0 || math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return a / b
}

// tokenCPUOverSign is the median over the rounds of the token CPU over the signature CPU measured beside it; with
// no per-round signatures, the token CPU over the first signature measurement.
func (r report) tokenCPUOverSign() float64 {
	if got, ok := pairedRatio(r.token.roundCPU, r.roundSignCPU); ok {
		return got
	}
	s, ok := r.signFor(r.tokenAlg)
	if !ok {
		return math.NaN()
	}
	return ratio(r.token.cpuPerRequest(), us(s.signCPU))
}

// valuesCPUOverOpen is the median over the rounds of /api/values CPU over the open route's in the same round.
func (r report) valuesCPUOverOpen() float64 {
	if got, ok := pairedRatio(r.values.roundCPU, r.open.roundCPU); ok {
		return got
	}
	return ratio(r.values.cpuPerRequest(), r.open.cpuPerRequest())
}

// pairedRatio is the median of a[i]/b[i], the two measured in the same round; ok is false when they do not pair.
func pairedRatio(a, b []float64) (float64, bool) {
	if len(a) == 0 || len(a) != len(b) {
		return 0, false
	}
	ratios := make([]float64, len(a))
	for i := range a {
		ratios[i] = ratio(a[i], b[i])
	}
	return median(ratios), true
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// target is one of the project's goals and whether this run met it.
type target struct {
	name  string
	want  string
	got   float64
	limit float64
	unit  string
}

// ok is got <= limit; NaN (a phase that measured nothing) never is.
func (t target) ok() bool { return !math.IsNaN(t.got) && t.got <= t.limit }

func (t target) result() string {
	if t.ok() {
		return "ok"
	}
	return fmt.Sprintf("MISSED (%s%s, limit %s)", num(t.got), t.unit, t.want)
}

func (r report) targets() []target {
	return []target{
		{name: "token CPU / " + r.tokenAlg + " sign", want: "<= 1.10 x", got: r.tokenCPUOverSign(), limit: 1.10, unit: " x"},
		{name: "values CPU / open route CPU", want: "<= 1.30 x", got: r.valuesCPUOverOpen(), limit: 1.30, unit: " x"},
		{name: "token p99 at 50% of max", want: "<= 10 ms", got: ms(r.openToken.p99), limit: 10, unit: " ms"},
		{name: "values p99 at 50% of max", want: "<= 2 ms", got: ms(r.openValues.p99), limit: 2, unit: " ms"},
		{name: "idle RSS, larger service", want: "<= 20 MiB", got: r.mem.idleRSSMiB(), limit: 20, unit: " MiB"},
		{name: "RSS per idle keep-alive conn", want: "<= 25 KiB", got: r.mem.perConnKiB(), limit: 25, unit: " KiB"},
		{name: "non-2xx and transport errors", want: "0", got: float64(r.errors()), limit: 0},
	}
}

// num prints a measurement with three significant digits or so; n/a for a missing one.
func num(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "n/a"
	case v == math.Trunc(v) && math.Abs(v) < 1e6:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// lastLine is the one machine-readable line the run ends with; keys are fixed, values use num's spelling.
func (r report) lastLine() string {
	return fmt.Sprintf("token_cpu_over_sign=%s values_cpu_over_open=%s token_p99_ms=%s values_p99_ms=%s idle_rss_mb=%s errors=%d",
		num(r.tokenCPUOverSign()), num(r.valuesCPUOverOpen()), num(ms(r.openToken.p99)), num(ms(r.openValues.p99)),
		num(r.mem.idleRSSMiB()), r.errors())
}

// print writes the tables, the targets and the last line; it returns errTargetsMissed when any target is missed.
func (r report) print(w io.Writer) error {
	fmt.Fprintf(w, "\n%s\n", r.machine)
	if r.loadBefore != "" {
		// Other work on the machine shows in every number, the tail latencies most.
		fmt.Fprintf(w, "load average (1, 5, 15 min): %s before, %s after\n", r.loadBefore, r.loadAfter)
	}

	fmt.Fprintln(w, "\nSigning, in-process (testing.Benchmark, golang-jwt as authserver uses it; CPU counts the GC's share too)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "alg\tkey\tsign µs\tsign CPU µs\tverify µs\tverify CPU µs\t")
	for _, s := range r.signs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", s.alg, s.key, num(us(s.sign)), num(us(s.signCPU)), num(us(s.verify)), num(us(s.verifyCPU)))
	}
	tw.Flush()
	if len(r.roundSignCPU) > 0 {
		rounds := make([]string, len(r.roundSignCPU))
		for i, v := range r.roundSignCPU {
			rounds[i] = num(v)
		}
		fmt.Fprintf(w, "%s sign CPU µs beside each round's token phase: %s\n", r.tokenAlg, strings.Join(rounds, " "))
	}

	fmt.Fprintf(w, "\nClosed loop, %d workers, %d interleaved rounds: server CPU from /proc, median of the rounds; ratios are\n"+
		"the median of each round's ratio (the load generator shares the cores)\n", r.token.workers, len(r.token.roundCPU))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "request\trequests\terrors\twall s\treq/s\tserver CPU µs/req\teach round\tserver cores busy\t")
	for _, c := range []closedResult{r.token, r.values, r.open} {
		busy := ratio(c.serverCPU.Seconds(), c.elapsed.Seconds())
		name := c.name
		if c.stoppedByTime {
			name += " (time bound)"
		}
		rounds := make([]string, len(c.roundCPU))
		for i, v := range c.roundCPU {
			rounds[i] = num(v)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t\n", name, c.requests, c.errors, c.elapsed.Seconds(), num(c.rate()),
			num(c.cpuPerRequest()), strings.Join(rounds, " "), num(busy))
	}
	tw.Flush()
	if r.valuesTokens > 1 {
		fmt.Fprintf(w, "GET /api/values took %d different tokens in turn.\n", r.valuesTokens)
	}

	fmt.Fprintf(w, "\nOpen loop at %.0f%% of the closed-loop rate (vegeta, constant pacer)\n", r.openFraction*100)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "request\trate/s\tachieved/s\trequests\terrors\tp50 ms\tp99 ms\tp99.9 ms\tmax ms\t")
	for _, o := range []openResult{r.openToken, r.openValues} {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t\n", o.name, num(o.rate), num(o.achieved), o.requests, o.errors,
			num(ms(o.p50)), num(ms(o.p99)), num(ms(o.p999)), num(ms(o.max)))
	}
	tw.Flush()

	fmt.Fprintln(w, "\nMemory (VmRSS)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "authserver idle, after warm-up\t%s MiB\t\n", num(float64(r.mem.authIdleKiB)/1024))
	fmt.Fprintf(tw, "valuesapi idle, after warm-up\t%s MiB\t\n", num(float64(r.mem.apiIdleKiB)/1024))
	fmt.Fprintf(tw, "valuesapi with %d idle keep-alive conns\t%s -> %s MiB\t\n", r.mem.conns, num(float64(r.mem.connsBaseKiB)/1024), num(float64(r.mem.connsKiB)/1024))
	fmt.Fprintf(tw, "per 1,000 idle conns\t%s MiB\t\n", num(r.mem.perConnKiB()*1000/1024))
	fmt.Fprintf(tw, "per idle conn\t%s KiB\t\n", num(r.mem.perConnKiB()))
	tw.Flush()

	var firsts []string
	for _, f := range [][]string{r.token.firstErrors, r.values.firstErrors, r.open.firstErrors, r.openToken.firstErrors, r.openValues.firstErrors, r.otherFirstErrors} {
		firsts = append(firsts, f...)
	}
	if len(firsts) > 0 {
		fmt.Fprintf(w, "\nFailed requests (first of each phase): %s\n", strings.Join(firsts, "; "))
	}

	fmt.Fprintln(w, "\nTargets")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\twant\tgot\tresult")
	missed := 0
	for _, t := range r.targets() {
		if !t.ok() {
			missed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s%s\t%s\n", t.name, t.want, num(t.got), t.unit, t.result())
	}
	tw.Flush()
	if missed > 0 {
		fmt.Fprintf(w, "\n%d of %d targets MISSED\n", missed, len(r.targets()))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, r.lastLine())
	if missed > 0 {
		return errTargetsMissed
	}
	return nil
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

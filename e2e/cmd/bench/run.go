package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tokenbearer/httpserver/envflag"
)

type config struct {
	bin                           string
	workers                       int
	tokenRequests, valuesRequests int
	closedDuration, openDuration  time.Duration
	openFraction                  float64
	idleConns                     int
	valuesTokens                  int
	rounds                        int
	timeout                       time.Duration
	clientID, clientSecret, scope string
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	if len(args) > 0 {
		args = args[1:]
	}
	s := envflag.New("bench [flags]",
		"Starts bin/authserver and bin/valuesapi on loopback ports, measures signing, server CPU per request, open-loop\n"+
			"latency and memory, prints them beside the targets and exits non-zero when one is missed or a request failed.", stderr)
	var cfg config
	s.String(&cfg.bin, "bin", "BENCH_BIN", "bin", "`directory` holding the authserver and valuesapi binaries")
	s.Int(&cfg.workers, "workers", "BENCH_WORKERS", 8, "concurrent clients of each closed-loop phase")
	s.Int(&cfg.tokenRequests, "token-requests", "BENCH_TOKEN_REQUESTS", 4000, "at most this many token requests in the closed-loop phase")
	s.Int(&cfg.valuesRequests, "values-requests", "BENCH_VALUES_REQUESTS", 30000, "at most this many requests in each closed-loop valuesapi phase (/api/values, /healthz)")
	s.Int(&cfg.rounds, "rounds", "BENCH_ROUNDS", 3, "closed-loop rounds, each phase in turn; the requests are shared among them and the CPU per request is their median")
	s.Duration(&cfg.closedDuration, "closed-duration", "BENCH_CLOSED_DURATION", 20*time.Second, "at most this long for each closed-loop phase (all its rounds)")
	s.Duration(&cfg.openDuration, "open-duration", "BENCH_OPEN_DURATION", 10*time.Second, "duration of each open-loop (vegeta) phase")
	s.Float64(&cfg.openFraction, "open-fraction", "BENCH_OPEN_FRACTION", 0.5, "open-loop rate as a fraction of the closed-loop rate")
	s.Int(&cfg.idleConns, "idle-conns", "BENCH_IDLE_CONNS", 1000, "idle keep-alive connections opened to valuesapi to measure their memory")
	s.Int(&cfg.valuesTokens, "values-tokens", "BENCH_VALUES_TOKENS", 1, "different tokens GET /api/values takes in turn; more than one defeats a verified-token cache")
	s.Duration(&cfg.timeout, "timeout", "BENCH_TIMEOUT", 5*time.Second, "timeout of each request")
	s.String(&cfg.clientID, "client-id", "BENCH_CLIENT_ID", "ApiClient", "`client_id` the token requests authenticate as (client_secret_post)")
	s.String(&cfg.clientSecret, "client-secret", "BENCH_CLIENT_SECRET", "secret", "`client_secret` of that client (the demo's is the default)")
	s.String(&cfg.scope, "scope", "BENCH_SCOPE", "auth.web.api", "`scope` the token requests ask for")
	if err := s.Parse(args, getenv); err != nil {
		return config{}, err
	}
	switch {
	case cfg.rounds < 1 || cfg.rounds > cfg.tokenRequests || cfg.rounds > cfg.valuesRequests:
		return config{}, errors.New("--rounds must be at least 1 and at most the requests of a phase")
	case cfg.workers < 1:
		return config{}, errors.New("--workers must be at least 1")
	case cfg.tokenRequests < 1 || cfg.valuesRequests < 1:
		return config{}, errors.New("--token-requests and --values-requests must be at least 1")
	case cfg.closedDuration <= 0 || cfg.openDuration <= 0:
		// A zero duration would tell vegeta to attack until stopped.
		return config{}, errors.New("--closed-duration and --open-duration must be positive")
	case cfg.openFraction <= 0 || cfg.openFraction > 1:
		return config{}, errors.New("--open-fraction must be in (0, 1]")
	case cfg.idleConns < 1:
		return config{}, errors.New("--idle-conns must be at least 1")
	case cfg.valuesTokens < 1 || cfg.valuesTokens > 10000:
		return config{}, errors.New("--values-tokens must be between 1 and 10000")
	case cfg.timeout <= 0:
		return config{}, errors.New("--timeout must be positive")
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, name := range []string{"authserver", "valuesapi"} {
		if _, err := os.Stat(filepath.Join(cfg.bin, name)); err != nil {
			return fmt.Errorf("%w (run make build first, or point --bin at the binaries)", err)
		}
	}
	// Progress goes to stderr so that stdout is the report alone.
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }
	r := report{machine: machine(), openFraction: cfg.openFraction, valuesTokens: cfg.valuesTokens, loadBefore: loadAverage()}
	progress("%s", r.machine)

	// Signing first, while the machine is quiet and no service runs.
	signers := map[string]*prepared{}
	for _, a := range algorithms {
		progress("signing and verifying %s in-process", a.name)
		p, err := prepare(a)
		if err != nil {
			return err
		}
		s, err := p.benchmark()
		if err != nil {
			return err
		}
		signers[a.name] = p
		r.signs = append(r.signs, s)
	}

	// The idle connections and the load generator's own connections share this process's descriptors.
	if err := raiseNoFile(uint64(cfg.idleConns + 4*cfg.workers + 512)); err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	auth, api, err := startServices(ctx, cfg.bin, dir)
	stop := sync.OnceValue(func() error { return stopAll(auth, api, stderr) })
	defer stop()
	if err != nil {
		return err
	}
	progress("authserver %s (pid %d), valuesapi %s (pid %d), logs in %s", auth.url, auth.pid(), api.url, api.pid(), dir)

	client := newClient(cfg.workers, cfg.timeout)
	tokenReq := tokenEndpoint(auth.url, cfg.clientID, cfg.clientSecret, cfg.scope)
	var tokens []string
	for range cfg.valuesTokens {
		tok, alg, err := fetchToken(ctx, client, tokenReq)
		if err != nil {
			return err
		}
		tokens = append(tokens, tok)
		r.tokenAlg = alg
	}
	valuesReqs := make([]endpoint, len(tokens))
	for i, tok := range tokens {
		valuesReqs[i] = valuesEndpoint(api.url, tok)
	}
	openReqs := []endpoint{healthzEndpoint(api.url)}
	tokenReqs := []endpoint{tokenReq}

	// Warm-up: the first requests fill pools, caches and the heap's first spans, which is not idle cost.
	var other failures
	for range 20 {
		for _, e := range []endpoint{tokenReq, valuesReqs[0], openReqs[0]} {
			req, err := e.request(ctx)
			if err != nil {
				return err
			}
			other.check(client.Do(req))
		}
	}
	client.CloseIdleConnections()
	time.Sleep(time.Second) // let the runtime settle after the warm-up's burst
	if r.mem.authIdleKiB, err = rssKiB(auth.pid()); err != nil {
		return err
	}
	if r.mem.apiIdleKiB, err = rssKiB(api.pid()); err != nil {
		return err
	}

	// Idle connections before any load, so that their memory is new memory and not what load left free.
	progress("opening %d idle keep-alive connections to valuesapi", cfg.idleConns)
	if r.mem.connsBaseKiB, err = rssKiB(api.pid()); err != nil {
		return err
	}
	conns := idleConns(ctx, strings.TrimPrefix(api.url, "http://"), "/healthz", cfg.idleConns, cfg.timeout, &other)
	time.Sleep(500 * time.Millisecond)
	r.mem.conns = len(conns)
	r.mem.connsKiB, err = rssKiB(api.pid())
	for _, c := range conns {
		c.Close()
	}
	if err != nil {
		return err
	}
	r.otherErrors, r.otherFirstErrors = other.count, other.first

	authCPU := func() (time.Duration, error) { return processCPU(auth.pid()) }
	apiCPU := func() (time.Duration, error) { return processCPU(api.pid()) }
	phases := []struct {
		out    *closedResult
		es     []endpoint
		max    int
		cpu    func() (time.Duration, error)
		rounds []closedResult
	}{
		{out: &r.token, es: tokenReqs, max: cfg.tokenRequests, cpu: authCPU},
		{out: &r.values, es: valuesReqs, max: cfg.valuesRequests, cpu: apiCPU},
		{out: &r.open, es: openReqs, max: cfg.valuesRequests, cpu: apiCPU},
	}
	// Rounds take the phases in turn, so that a burst of other work on the machine falls on one round of each
	// rather than on the whole of one phase.
	for round := range cfg.rounds {
		// The signature is measured again beside each round's token phase: the CPU an operation takes on a shared
		// machine drifts by tens of percent within minutes, and the ratio should compare like with like.
		if p, ok := signers[r.tokenAlg]; ok {
			progress("round %d of %d: signing %s in-process", round+1, cfg.rounds, r.tokenAlg)
			_, cpu, err := p.benchSign()
			if err != nil {
				return err
			}
			r.roundSignCPU = append(r.roundSignCPU, us(cpu))
		}
		for i := range phases {
			p := &phases[i]
			progress("closed loop, round %d of %d: %d × %s with %d workers", round+1, cfg.rounds, p.max/cfg.rounds, p.es[0].name, cfg.workers)
			res, err := closedLoop(ctx, p.es, cfg.workers, p.max/cfg.rounds, cfg.closedDuration/time.Duration(cfg.rounds), cfg.timeout, p.cpu)
			if err != nil {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			p.rounds = append(p.rounds, res)
		}
	}
	for _, p := range phases {
		*p.out = combine(p.rounds)
	}

	// The open loop runs each endpoint at a fraction of what the closed loop found it could answer.
	tokenRate, valuesRate := r.token.rate()*cfg.openFraction, r.values.rate()*cfg.openFraction
	progress("open loop: token requests at %.0f/s for %s", tokenRate, cfg.openDuration)
	r.openToken = openLoop(ctx, tokenReqs, tokenRate, cfg.openDuration, cfg.timeout, 4*cfg.workers)
	progress("open loop: GET /api/values at %.0f/s for %s", valuesRate, cfg.openDuration)
	r.openValues = openLoop(ctx, valuesReqs, valuesRate, cfg.openDuration, cfg.timeout, 4*cfg.workers)
	if ctx.Err() != nil {
		return ctx.Err()
	}

	r.loadAfter = loadAverage()
	stopErr := stop()
	if err := r.print(stdout); err != nil {
		return err
	}
	return stopErr
}

// startServices starts authserver with a new key in dir, then valuesapi trusting it, each on a free loopback port,
// and waits until both are ready. auth is returned whenever it was started, so the caller can stop what runs.
func startServices(ctx context.Context, bin, dir string) (auth, api *service, err error) {
	authAddr, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	issuer := "http://" + authAddr
	auth, err = startService(bin, dir, "authserver", authAddr,
		"--addr", authAddr, "--issuer", issuer, "--key-file", filepath.Join(dir, "tempkey.jwk"))
	if err != nil {
		return nil, nil, err
	}
	// A new RSA key is generated on the first start, which can take a second on a busy machine.
	if err := auth.waitReady(ctx, 30*time.Second); err != nil {
		return auth, nil, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return auth, nil, err
	}
	api, err = startService(bin, dir, "valuesapi", apiAddr, "--addr", apiAddr, "--authority", issuer)
	if err != nil {
		return auth, nil, err
	}
	return auth, api, api.waitReady(ctx, 30*time.Second)
}

// stopAll stops the services that run, valuesapi first since it depends on authserver, and reports each failure.
func stopAll(auth, api *service, stderr io.Writer) error {
	var errs []error
	for _, s := range []*service{api, auth} {
		if s == nil {
			continue
		}
		if err := s.stop(15 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		fmt.Fprintln(stderr, "bench: stopping the services:", err)
	}
	return err
}

// raiseNoFile raises this process's soft limit on open descriptors to need, within the hard limit.
func raiseNoFile(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		return fmt.Errorf("RLIMIT_NOFILE hard limit is %d, need %d descriptors (lower --idle-conns)", lim.Max, need)
	}
	lim.Cur = need
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raising RLIMIT_NOFILE to %d: %w", need, err)
	}
	return nil
}

// machine names what the numbers were measured on.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown kernel"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("machine: %d CPUs, %s, %s, %s, %s/%s", runtime.NumCPU(), model, kernel, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// loadAverage is the first three fields of /proc/loadavg, empty when it cannot be read.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

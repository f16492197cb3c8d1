package e2e

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// demoRun is one run of scripts/demo.sh (what `make demo` and `make run` call) with the binaries TestMain built,
// on free loopback ports, in a folder of its own.
type demoRun struct {
	bin                  string // BIN: the binaries, and where the demo writes its logs
	authAddr, valuesAddr string
}

func newDemoRun(t *testing.T) demoRun {
	t.Helper()
	d := demoRun{bin: t.TempDir(), authAddr: freeAddr(t), valuesAddr: freeAddr(t)}
	for _, name := range []string{"authserver", "valuesapi", "walkthrough"} {
		if err := os.Symlink(filepath.Join(binDir, name), filepath.Join(d.bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// run runs the script in mode over plain HTTP and returns its exit code and everything it printed.
func (d demoRun) run(t *testing.T, mode string) (int, string) {
	t.Helper()
	return d.runWith(t, mode, "http")
}

// runWith runs the script in mode, with scheme http or https; for https the services serve the pair in
// d.bin/dev-certs, which the caller made with `authserver dev-cert`, as `make demo-https` does.
func (d demoRun) runWith(t *testing.T, mode, scheme string) (int, string) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(repoRoot(t), "scripts", "demo.sh"), mode)
	cmd.Dir = d.bin
	authURL, apiURL := scheme+"://"+d.authAddr, scheme+"://"+d.valuesAddr
	cmd.Env = append(os.Environ(),
		"BIN="+d.bin,
		"READY_TIMEOUT=20",
		"AUTHSERVER_ADDR="+d.authAddr,
		"AUTHSERVER_ISSUER="+authURL,
		"AUTHSERVER_KEY_FILE="+filepath.Join(d.bin, "key.jwk"),
		"VALUESAPI_ADDR="+d.valuesAddr,
		"VALUESAPI_AUTHORITY="+authURL,
		"WALKTHROUGH_AUTHORITY="+authURL,
		"WALKTHROUGH_API="+apiURL,
	)
	if scheme == "https" {
		certs := filepath.Join(d.bin, "dev-certs")
		cmd.Env = append(cmd.Env,
			"AUTHSERVER_TLS_CERT="+filepath.Join(certs, "tls.crt"), "AUTHSERVER_TLS_KEY="+filepath.Join(certs, "tls.key"),
			"VALUESAPI_TLS_CERT="+filepath.Join(certs, "tls.crt"), "VALUESAPI_TLS_KEY="+filepath.Join(certs, "tls.key"),
			"VALUESAPI_AUTHORITY_CA="+filepath.Join(certs, "ca.crt"),
			"WALKTHROUGH_CA="+filepath.Join(certs, "ca.crt"),
		)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("running demo.sh: %v", err)
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

func TestDemoScriptNarratesAndSaysWhereTheLogsAre(t *testing.T) {
	d := newDemoRun(t)
	code, out := d.run(t, "demo")
	if code != 0 {
		t.Fatalf("demo exited %d:\n%s", code, out)
	}
	for _, want := range []string{"Service logs: " + d.bin + "/authserver.log and " + d.bin + "/valuesapi.log", `["value1","value2"]`} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	// authserver was ready before valuesapi started, so valuesapi never logged a failed key fetch.
	logs, err := os.ReadFile(filepath.Join(d.bin, "valuesapi.log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(logs), "level=WARN") {
		t.Errorf("valuesapi warned although authserver was ready first:\n%s", logs)
	}
}

// A port held by something else: the demo's own authserver dies with "address already in use", and the demo
// must say so and fail, not report success.
func TestDemoFailsWhenItsPortIsTaken(t *testing.T) {
	d := newDemoRun(t)
	ln, err := net.Listen("tcp", d.authAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, out := d.run(t, "demo")
	if code == 0 {
		t.Fatalf("demo exited 0 with its port taken:\n%s", out)
	}
	for _, want := range []string{"error: authserver exited", "address already in use", "authserver.log"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// Another instance already answering on the port (a `make run` in another terminal): the demo refuses to start
// rather than narrate a run against services that are not its own.
func TestDemoRefusesToRunAgainstAnotherInstance(t *testing.T) {
	d := newDemoRun(t)
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	ln, err := net.Listen("tcp", d.valuesAddr)
	if err != nil {
		t.Fatal(err)
	}
	other.Listener = ln
	other.Start()
	defer other.Close()
	code, out := d.run(t, "demo")
	if code == 0 {
		t.Fatalf("demo exited 0 with another valuesapi on its port:\n%s", out)
	}
	if want := "error: another valuesapi already answers on its port"; !strings.Contains(out, want) {
		t.Errorf("demo output lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, "value1") {
		t.Errorf("the walkthrough ran against the other instance:\n%s", out)
	}
}

// The walkthrough over HTTPS, as `make demo-https` runs it: a dev CA from `authserver dev-cert`, both services on
// TLS with its certificate, valuesapi and the walkthrough trusting only that CA for the authority.
func TestDemoScriptOverHTTPS(t *testing.T) {
	d := newDemoRun(t)
	out, err := exec.Command(filepath.Join(d.bin, "authserver"), "dev-cert", "--out", filepath.Join(d.bin, "dev-certs")).CombinedOutput()
	if err != nil {
		t.Fatalf("dev-cert: %v\n%s", err, out)
	}
	code, narration := d.runWith(t, "demo", "https")
	if code != 0 {
		t.Fatalf("demo over HTTPS exited %d:\n%s", code, narration)
	}
	for _, want := range []string{"GET https://" + d.valuesAddr + "/api/values", "POST https://" + d.authAddr + "/connect/token",
		`"iss": "https://` + d.authAddr + `"`, `["value1","value2"]`} {
		if !strings.Contains(narration, want) {
			t.Errorf("narration lacks %q:\n%s", want, narration)
		}
	}
}

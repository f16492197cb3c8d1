package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// newmanPath is the newman that `npm ci` in e2e/ installs from package-lock.json.
const newmanPath = "node_modules/.bin/newman"

// requireNewman skips when newman is not installed, unless E2E_REQUIRE_NEWMAN=1 or E2E_REQUIRE_DOCKER=1 (CI).
func requireNewman(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(newmanPath); err == nil {
		return
	}
	if os.Getenv("E2E_REQUIRE_NEWMAN") == "1" || os.Getenv("E2E_REQUIRE_DOCKER") == "1" {
		t.Fatalf("newman is required but %s is missing: run `npm ci` in e2e/", newmanPath)
	}
	t.Skipf("skipping the Postman collection: newman not installed (run `npm ci` in e2e/)")
}

// newmanSummary is the part of newman's JSON report the tests read.
type newmanSummary struct {
	Run struct {
		Stats map[string]struct {
			Total  int `json:"total"`
			Failed int `json:"failed"`
		} `json:"stats"`
		Executions []struct {
			Item struct {
				Name string `json:"name"`
			} `json:"item"`
		} `json:"executions"`
		Failures []struct {
			Source struct {
				Name string `json:"name"`
			} `json:"source"`
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		} `json:"failures"`
	} `json:"run"`
}

// runNewman runs deploy/postman's collection with its environment file, pointed at the given base URLs (and any
// further newman arguments: --env-var overrides, --ssl-extra-ca-certs), and returns newman's report and whether
// newman exited 0.
func runNewman(t *testing.T, authority, api string, extra ...string) (newmanSummary, bool) {
	t.Helper()
	root := repoRoot(t)
	report := filepath.Join(t.TempDir(), "newman.json")
	args := []string{"run", filepath.Join(root, "deploy", "postman", "walkthrough.postman_collection.json"),
		"--environment", filepath.Join(root, "deploy", "postman", "walkthrough.postman_environment.json"),
		"--env-var", "authority=" + authority, "--env-var", "api=" + api,
		"--reporters", "cli,json", "--reporter-json-export", report,
		"--color", "off", "--disable-unicode", "--timeout-request", "10000",
	}
	args = append(args, extra...)
	out, err := exec.Command(newmanPath, args...).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running newman: %v\n%s", err, out)
	}
	var sum newmanSummary
	b, rerr := os.ReadFile(report)
	if rerr == nil {
		rerr = json.Unmarshal(b, &sum)
	}
	if rerr != nil {
		t.Fatalf("reading newman's report: %v\n%s", rerr, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("newman output:\n%s", out)
		}
	})
	return sum, err == nil
}

// checkNewmanPassed asserts that the collection ran the article's four requests in order and every pm.test passed.
func checkNewmanPassed(t *testing.T, sum newmanSummary, ok bool) {
	t.Helper()
	var names []string
	for _, e := range sum.Run.Executions {
		names = append(names, e.Item.Name)
	}
	want := []string{
		"1. GET values without a token -> 401",
		"2. GET discovery document",
		"3. POST token (client credentials)",
		"4. GET values with the token -> 200",
	}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("requests run: got %q, want %q", names, want)
	}
	for _, f := range sum.Run.Failures {
		t.Errorf("newman: %s: %s", f.Source.Name, f.Error.Message)
	}
	asserts := sum.Run.Stats["assertions"]
	if wantAsserts := countPMTests(t); asserts.Total != wantAsserts || asserts.Failed != 0 {
		t.Errorf("assertions: got %d run, %d failed; want all %d of the collection's pm.test run and passing",
			asserts.Total, asserts.Failed, wantAsserts)
	}
	if !ok {
		t.Error("newman exited non-zero")
	}
}

// countPMTests counts the pm.test calls in the collection, so a script that stops early is noticed.
func countPMTests(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "postman", "walkthrough.postman_collection.json"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "pm.test(")
}

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binDir holds the service binaries TestMain builds once for every test in this package.
var binDir string

func TestMain(m *testing.M) {
	for name, value := range containerDefaults(os.Getenv) {
		os.Setenv(name, value)
	}
	os.Exit(buildThenRun(m))
}

// containerDefaults are the testcontainers settings the container tests need on a machine with a local Docker
// engine and no image registry, for each one not already set: they use no image but the project's own, so no Ryuk
// reaper (its image would have to be pulled; every test removes its containers itself), and a local engine
// publishes ports on loopback, where testcontainers would otherwise dial a gateway address when it finds itself
// inside a container. Set either variable to choose otherwise.
func containerDefaults(getenv func(string) string) map[string]string {
	set := map[string]string{}
	if getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		set["TESTCONTAINERS_RYUK_DISABLED"] = "true"
	}
	host := getenv("DOCKER_HOST")
	if getenv("TESTCONTAINERS_HOST_OVERRIDE") == "" && (host == "" || strings.HasPrefix(host, "unix://")) {
		set["TESTCONTAINERS_HOST_OVERRIDE"] = "127.0.0.1"
	}
	return set
}

func buildThenRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	for name, pkg := range map[string]string{
		"authserver":  "github.com/tokenbearer/authserver",
		"valuesapi":   "github.com/tokenbearer/valuesapi",
		"walkthrough": "github.com/tokenbearer/e2e/cmd/walkthrough",
	} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: building %s: %v\n", name, err)
			return 1
		}
	}
	binDir = dir
	return m.Run()
}

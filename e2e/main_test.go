package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binDir holds the service binaries TestMain builds once for every test in this package.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(buildThenRun(m))
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

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// The issuer both containers agree on: the authserver's name on the Docker network, as in docker-compose.yml.
const containerIssuer = "https://authserver:44364"

// requireDocker skips the test when no Docker engine answers, or fails it when E2E_REQUIRE_DOCKER=1 (CI), so a
// machine without Docker still passes `make test` while CI cannot silently skip the container tests.
func requireDocker(t *testing.T) {
	t.Helper()
	dockerOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		cli, err := testcontainers.NewDockerClientWithOpts(ctx)
		if err == nil {
			_, err = cli.Ping(ctx, client.PingOptions{})
			cli.Close()
		}
		dockerErr = err
	})
	if dockerErr == nil {
		return
	}
	if os.Getenv("E2E_REQUIRE_DOCKER") == "1" {
		t.Fatalf("E2E_REQUIRE_DOCKER=1 but no Docker engine is reachable: %v", dockerErr)
	}
	t.Skipf("skipping container test: no Docker engine reachable (set E2E_REQUIRE_DOCKER=1 to fail instead): %v", dockerErr)
}

var (
	dockerOnce sync.Once
	dockerErr  error
)

// repoRoot is the repository root: the Docker build context and where docker-compose.yml lives.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "deploy", "prebuilt.Dockerfile")); err != nil {
		t.Fatalf("repository root not found from the e2e folder: %v", err)
	}
	return root
}

// buildLinuxBinaries does what `make linux` does, once per test binary: static binaries in bin/linux/ for the
// prebuilt.Dockerfile, for the engine's architecture (the same machine's, since the engine is local).
func buildLinuxBinaries(t *testing.T) {
	t.Helper()
	root := repoRoot(t)
	linuxOnce.Do(func() {
		for _, name := range []string{"authserver", "valuesapi"} {
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w",
				"-o", filepath.Join(root, "bin", "linux", name), "./"+name)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
			if out, err := cmd.CombinedOutput(); err != nil {
				linuxErr = fmt.Errorf("building bin/linux/%s: %v\n%s", name, err, out)
				return
			}
		}
	})
	if linuxErr != nil {
		t.Fatal(linuxErr)
	}
}

var (
	linuxOnce sync.Once
	linuxErr  error
)

// prebuiltImage describes the image of one service built from deploy/prebuilt.Dockerfile.
func prebuiltImage(t *testing.T, service, port string) testcontainers.FromDockerfile {
	return testcontainers.FromDockerfile{
		Context:    repoRoot(t),
		Dockerfile: "deploy/prebuilt.Dockerfile",
		BuildArgs:  map[string]*string{"SERVICE": &service, "PORT": &port},
	}
}

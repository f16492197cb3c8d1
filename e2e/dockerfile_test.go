package e2e

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// runtimeStage is the final stage of a Dockerfile: its lines from the last FROM, without the one line that says
// where /service comes from.
func runtimeStage(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	last := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			last = i
		}
	}
	if last < 0 {
		t.Fatalf("%s has no FROM", name)
	}
	var stage []string
	for _, l := range lines[last:] {
		if strings.HasPrefix(l, "COPY ") && strings.HasSuffix(l, " /service") {
			continue
		}
		stage = append(stage, l)
	}
	return stage
}

// The two Dockerfiles are separate so the classic builder can build either (see source.Dockerfile); what they
// ship must not drift apart.
func TestDockerfilesShareOneRuntime(t *testing.T) {
	source, prebuilt := runtimeStage(t, "source.Dockerfile"), runtimeStage(t, "prebuilt.Dockerfile")
	if !slices.Equal(source, prebuilt) {
		t.Errorf("runtime stages differ:\nsource.Dockerfile:\n%s\n\nprebuilt.Dockerfile:\n%s",
			strings.Join(source, "\n"), strings.Join(prebuilt, "\n"))
	}
	for _, want := range []string{"FROM scratch", "USER 65532:65532", `ENTRYPOINT ["/service"]`} {
		if !slices.Contains(source, want) {
			t.Errorf("runtime stage lacks %q", want)
		}
	}
}

// The classic builder (docker-compose v1, DOCKER_BUILDKIT=0) cannot build what BuildKit alone understands.
func TestSourceDockerfileNeedsNoBuildKit(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "source.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		for _, bad := range []string{"--mount", "$BUILDPLATFORM", "${BUILDPLATFORM}", "--platform", "<<"} {
			if strings.Contains(l, bad) {
				t.Errorf("line %d uses %s, which the classic builder refuses: %s", i+1, bad, l)
			}
		}
	}
	if n := strings.Count(string(data), "\nFROM "); n != 2 {
		t.Errorf("got %d stages, want 2: the classic builder builds every stage", n)
	}
}

func TestContainerDefaults(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want map[string]string
	}{
		{name: "local engine by default", env: map[string]string{},
			want: map[string]string{"TESTCONTAINERS_RYUK_DISABLED": "true", "TESTCONTAINERS_HOST_OVERRIDE": "127.0.0.1"}},
		{name: "local engine on a socket", env: map[string]string{"DOCKER_HOST": "unix:///run/docker.sock"},
			want: map[string]string{"TESTCONTAINERS_RYUK_DISABLED": "true", "TESTCONTAINERS_HOST_OVERRIDE": "127.0.0.1"}},
		{name: "remote engine: its own address", env: map[string]string{"DOCKER_HOST": "tcp://10.0.0.5:2376"},
			want: map[string]string{"TESTCONTAINERS_RYUK_DISABLED": "true"}},
		{name: "what the user set wins", env: map[string]string{"TESTCONTAINERS_RYUK_DISABLED": "false", "TESTCONTAINERS_HOST_OVERRIDE": "192.0.2.1"},
			want: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := containerDefaults(func(k string) string { return tt.env[k] })
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

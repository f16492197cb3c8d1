package e2e

import (
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

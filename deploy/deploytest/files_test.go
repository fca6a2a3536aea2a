package deploytest

import (
	"bufio"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the repository, the Docker build context.
const repoRoot = "../.."

func TestDeployDockerfile(t *testing.T) {
	stages, err := ParseDockerfile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages, want a build stage and the final one", len(stages))
	}
	build, final := stages[0], stages[1]
	if !strings.HasPrefix(build.From, "golang:1.26") || build.Name == "" {
		t.Errorf("build stage FROM %s AS %q, want golang:1.26 named", build.From, build.Name)
	}

	// The build: static, trimmed, of ./cmd/canonid, with the Makefile's
	// version flags.
	var goBuild string
	for _, in := range build.Instructions {
		if in.Cmd == "RUN" && strings.Contains(in.Args, "go build") {
			goBuild = in.Args
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/canonid", "-o /out/canonid"} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("the go build step lacks %q: %s", want, goBuild)
		}
	}
	makefile, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	ldflags := regexp.MustCompile(`(?m)^LDFLAGS\s*:?=\s*(.*)$`).FindSubmatch(makefile)
	if ldflags == nil {
		t.Fatal("no LDFLAGS in the Makefile")
	}
	for _, m := range regexp.MustCompile(`-X (\S+)=`).FindAllSubmatch(ldflags[1], -1) {
		if !strings.Contains(goBuild, "-X "+string(m[1])+"=") {
			t.Errorf("the go build step does not set %s as the Makefile does", m[1])
		}
	}

	// The final image: distroless (or scratch), non-root, the binary as
	// entrypoint serving the configuration it ships or is given.
	if final.From != "gcr.io/distroless/static-debian12:nonroot" && final.From != "scratch" {
		t.Errorf("final stage FROM %s", final.From)
	}
	user, ok := final.Last("USER")
	if !ok || user == "" || user == "root" || user == "0" || strings.HasPrefix(user, "0:") || strings.HasPrefix(user, "root:") {
		t.Errorf("final stage USER %q, want a non-root user", user)
	}
	if !regexp.MustCompile(`^[1-9][0-9]*(:[0-9]+)?$`).MatchString(user) {
		t.Errorf("USER %q is not numeric: Kubernetes' runAsNonRoot cannot check a name", user)
	}
	if e, _ := final.Last("ENTRYPOINT"); e != `["/canonid"]` {
		t.Errorf("ENTRYPOINT %s", e)
	}
	if c, _ := final.Last("CMD"); c != `["serve", "--config", "/etc/canonid/canonid.yaml"]` {
		t.Errorf("CMD %s", c)
	}
	if p, _ := final.Last("EXPOSE"); p != "8080" {
		t.Errorf("EXPOSE %s, want 8080", p)
	}
	if _, ok := final.Last("HEALTHCHECK"); ok {
		t.Error("a HEALTHCHECK in an image with nothing to run it")
	}
	copies := map[string]bool{}
	for _, in := range final.Instructions {
		if in.Cmd == "COPY" {
			copies[in.Args] = true
		}
	}
	if !copies["--from="+build.Name+" /out/canonid /canonid"] || !copies["deploy/image/canonid.yaml /etc/canonid/canonid.yaml"] {
		t.Errorf("final stage copies %v, want the binary and the configuration", copies)
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "deploy/image/canonid.yaml")); err != nil {
		t.Error(err)
	}
	text, _ := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if !strings.Contains(string(text), "# No HEALTHCHECK:") {
		t.Error("the Dockerfile does not explain why there is no HEALTHCHECK")
	}
}

// dockerignore reads the patterns of a .dockerignore file.
func dockerignore(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "!") {
			t.Fatalf("exceptions (%s) are not handled by this test", l)
		}
		out = append(out, filepath.Clean(strings.TrimPrefix(l, "/")))
	}
	return out
}

// ignored reports whether a pattern of .dockerignore excludes rel (a slash
// path from the context root) or a directory above it. "**/" at the start
// matches any depth.
func ignored(patterns []string, rel string) bool {
	for _, p := range patterns {
		anyDepth := strings.HasPrefix(p, "**/")
		p = strings.TrimPrefix(p, "**/")
		parts := strings.Split(rel, "/")
		for i := range parts {
			prefix := strings.Join(parts[:i+1], "/")
			if ok, _ := filepath.Match(p, prefix); ok {
				return true
			}
			if anyDepth {
				if ok, _ := filepath.Match(p, parts[i]); ok {
					return true
				}
			}
		}
	}
	return false
}

func TestDeployDockerignore(t *testing.T) {
	patterns := dockerignore(t, filepath.Join(repoRoot, ".dockerignore"))
	for _, rel := range []string{".git/config", "canonid.yaml", "data/canonid.db", "bin/canonid", "docs/operations.md", "deploy/helm/canonid/values.yaml", "store/x.db"} {
		if !ignored(patterns, rel) {
			t.Errorf("%s is sent to the build", rel)
		}
	}
	// Everything the build needs is sent: go.mod, go.sum, the baked
	// configuration, and every file of every Go package (sources and
	// embedded files).
	needed := []string{"go.mod", "go.sum", "deploy/image/canonid.yaml", "Makefile"}
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == ".git" || rel == "docs" {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") {
			dir := filepath.Dir(path)
			entries, err := os.ReadDir(dir)
			if err != nil {
				return err
			}
			for _, e := range entries {
				if !e.IsDir() && !strings.HasSuffix(e.Name(), "_test.go") {
					r, _ := filepath.Rel(repoRoot, filepath.Join(dir, e.Name()))
					needed = append(needed, filepath.ToSlash(r))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(needed)
	for _, rel := range slices.Compact(needed) {
		if ignored(patterns, rel) {
			t.Errorf("%s is needed by the build but .dockerignore leaves it out", rel)
		}
	}
}

// hardening are the [Service] settings every canonid unit has.
var hardening = map[string]string{
	"NoNewPrivileges":         "yes",
	"CapabilityBoundingSet":   "",
	"AmbientCapabilities":     "",
	"ProtectSystem":           "strict",
	"ProtectHome":             "yes",
	"PrivateTmp":              "yes",
	"PrivateDevices":          "yes",
	"ProtectKernelTunables":   "yes",
	"ProtectKernelModules":    "yes",
	"ProtectControlGroups":    "yes",
	"RestrictSUIDSGID":        "yes",
	"RestrictNamespaces":      "yes",
	"LockPersonality":         "yes",
	"MemoryDenyWriteExecute":  "yes",
	"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
	"SystemCallArchitectures": "native",
	"DynamicUser":             "yes",
	"User":                    "canonid",
	"StateDirectory":          "canonid",
	"WorkingDirectory":        "/var/lib/canonid",
	"EnvironmentFile":         "/etc/canonid/canonid.env",
	"UMask":                   "0077",
}

func TestDeploySystemdUnits(t *testing.T) {
	dir := filepath.Join(deployDir, "systemd")
	units := map[string]Unit{}
	for _, name := range []string{"canonid.service", "canonid-reconcile@.service", "canonid-reconcile@.timer"} {
		u, err := ParseUnit(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		units[name] = u
	}
	for _, name := range []string{"canonid.service", "canonid-reconcile@.service"} {
		u := units[name]
		for k, want := range hardening {
			if got, ok := u.Get("Service", k); !ok || got != want {
				t.Errorf("%s: %s=%q (set %v), want %q", name, k, got, ok, want)
			}
		}
		if f := u["Service"]["SystemCallFilter"]; !slices.Contains(f, "@system-service") {
			t.Errorf("%s: SystemCallFilter=%v", name, f)
		}
	}

	serve := units["canonid.service"]
	if e, _ := serve.Get("Service", "ExecStart"); e != "/usr/local/bin/canonid serve --config /etc/canonid/canonid.yaml" {
		t.Errorf("canonid.service ExecStart=%s", e)
	}
	if r, _ := serve.Get("Service", "Restart"); r != "on-failure" {
		t.Errorf("canonid.service Restart=%s", r)
	}
	if s, _ := serve.Get("Service", "TimeoutStopSec"); s != "30s" {
		t.Errorf("TimeoutStopSec=%s, want 30s (above serve's 15s shutdown_timeout)", s)
	}
	if w, _ := serve.Get("Install", "WantedBy"); w != "multi-user.target" {
		t.Errorf("canonid.service WantedBy=%s", w)
	}

	rec := units["canonid-reconcile@.service"]
	if e, _ := rec.Get("Service", "ExecStart"); e != "/usr/local/bin/canonid --config /etc/canonid/canonid.yaml propagate reconcile %i" {
		t.Errorf("reconcile ExecStart=%s", e)
	}
	if ty, _ := rec.Get("Service", "Type"); ty != "oneshot" {
		t.Errorf("reconcile Type=%s, want oneshot", ty)
	}
	if _, ok := rec["Install"]; ok {
		t.Error("the reconcile service is enabled by itself; its timer starts it")
	}
	timer := units["canonid-reconcile@.timer"]
	if c, _ := timer.Get("Timer", "OnCalendar"); !regexp.MustCompile(`^(daily|\*-\*-\* \d\d:\d\d(:\d\d)?)$`).MatchString(c) {
		t.Errorf("OnCalendar=%s, want once a day", c)
	}
	if p, _ := timer.Get("Timer", "Persistent"); p != "true" {
		t.Errorf("Persistent=%s", p)
	}
	if w, _ := timer.Get("Install", "WantedBy"); w != "timers.target" {
		t.Errorf("timer WantedBy=%s", w)
	}

	// systemd's own checker, where it is installed: unknown keys, bad
	// values, an ExecStart that is not executable (pointed at this test's
	// binary, the unit's path not being installed here).
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: systemd's own check skipped")
		return
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	for name, inst := range map[string]string{"canonid.service": "canonid.service", "canonid-reconcile@.service": "canonid-reconcile@.service", "canonid-reconcile@.timer": "canonid-reconcile@.timer"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		data = []byte(strings.ReplaceAll(string(data), "/usr/local/bin/canonid ", self+" "))
		if err := os.WriteFile(filepath.Join(tmp, inst), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A template is checked through an instance.
	if err := os.Link(filepath.Join(tmp, "canonid-reconcile@.service"), filepath.Join(tmp, "canonid-reconcile@lms.service")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(analyze, "verify", "--man=no", "canonid.service", "canonid-reconcile@lms.service", "canonid-reconcile@.timer")
	cmd.Dir = tmp
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

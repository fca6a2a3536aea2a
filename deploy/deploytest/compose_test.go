package deploytest

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// deployDir is deploy/, where compose.yaml is and its relative paths start.
const deployDir = ".."

func loadCompose(t *testing.T, env map[string]string) Compose {
	t.Helper()
	c, err := LoadCompose(filepath.Join(deployDir, "compose.yaml"), env)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDeployCompose(t *testing.T) {
	c := loadCompose(t, nil)
	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	if want := []string{"canonid", "mailpit", "openldap", "postgres"}; !slices.Equal(names, want) {
		t.Fatalf("services = %v, want %v", names, want)
	}
	cn, pg, ldap, mail := c.Services["canonid"], c.Services["postgres"], c.Services["openldap"], c.Services["mailpit"]

	if pg.Image != "postgres:17" && !strings.HasPrefix(pg.Image, "postgres:17.") {
		t.Errorf("postgres image = %q, want postgres:17", pg.Image)
	}
	if !strings.HasPrefix(mail.Image, "axllent/mailpit:") {
		t.Errorf("mail catcher image = %q, want axllent/mailpit", mail.Image)
	}

	// Builds: canonid from deploy/Dockerfile with the repository as
	// context, the directory from its own Dockerfile.
	for name, s := range map[string]ComposeService{"canonid": cn, "openldap": ldap} {
		if s.Build == nil {
			t.Errorf("%s is not built", name)
			continue
		}
		df := s.Build.Dockerfile
		if df == "" {
			df = "Dockerfile"
		}
		if _, err := os.Stat(filepath.Join(deployDir, s.Build.Context, df)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if cn.Build != nil && (filepath.Clean(filepath.Join(deployDir, cn.Build.Context)) != filepath.Clean("../..") || cn.Build.Dockerfile != "deploy/Dockerfile") {
		t.Errorf("canonid build = %+v, want the repository root and deploy/Dockerfile", cn.Build)
	}

	// Every file or directory mounted from the repository exists.
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, ".") {
				if _, ok := c.Volumes[src]; !ok {
					t.Errorf("%s mounts the undeclared volume %q", name, src)
				}
				continue
			}
			if _, err := os.Stat(filepath.Join(deployDir, src)); err != nil {
				t.Errorf("%s mounts %s: %v", name, src, err)
			}
		}
	}

	// canonid: its configuration mounted where its command reads it, after
	// the database and the directory are healthy; hardened.
	if !slices.Contains(cn.Volumes, "./compose/canonid.yaml:/etc/canonid/canonid.yaml:ro") {
		t.Errorf("canonid volumes = %v", cn.Volumes)
	}
	if !slices.Equal(cn.Command, []string{"serve", "--config", "/etc/canonid/canonid.yaml"}) {
		t.Errorf("canonid command = %v", cn.Command)
	}
	for _, dep := range []string{"postgres", "openldap"} {
		if cn.DependsOn[dep].Condition != "service_healthy" {
			t.Errorf("canonid does not wait for %s to be healthy", dep)
		}
		if s := c.Services[dep]; s.Healthcheck == nil || len(s.Healthcheck.Test) < 2 {
			t.Errorf("%s has no health check", dep)
		}
	}
	if !cn.ReadOnly || !slices.Contains(cn.CapDrop, "ALL") || !slices.Contains(cn.SecurityOpt, "no-new-privileges:true") || !slices.Contains(cn.Tmpfs, "/tmp") {
		t.Errorf("canonid is not hardened: read_only %v, cap_drop %v, security_opt %v, tmpfs %v", cn.ReadOnly, cn.CapDrop, cn.SecurityOpt, cn.Tmpfs)
	}

	// Published ports are the loopback's only.
	for name, s := range c.Services {
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %s on every interface", name, p)
			}
		}
	}

	// Secrets: obvious placeholders, and the same value wherever two
	// services must agree, whatever the .env file says.
	for k, v := range cn.Environment {
		if !strings.Contains(v, "change-me") {
			t.Errorf("canonid's %s = %q is not an obvious placeholder", k, v)
		}
	}
	for _, env := range []map[string]string{nil, {"CANONID_DB_PASSWORD": "db-from-env", "CAMPUS_LDAP_PASSWORD": "ldap-from-env"}} {
		c := loadCompose(t, env)
		cn, pg, ldap := c.Services["canonid"], c.Services["postgres"], c.Services["openldap"]
		if cn.Environment["CANONID_DB_PASSWORD"] != pg.Environment["POSTGRES_PASSWORD"] || cn.Environment["CANONID_DB_PASSWORD"] == "" {
			t.Errorf("with %v: canonid's database password %q, postgres's %q", env, cn.Environment["CANONID_DB_PASSWORD"], pg.Environment["POSTGRES_PASSWORD"])
		}
		if cn.Environment["CAMPUS_LDAP_PASSWORD"] != ldap.Environment["LDAP_CANONID_PASSWORD"] || cn.Environment["CAMPUS_LDAP_PASSWORD"] == "" {
			t.Errorf("with %v: canonid's directory password %q, the directory's %q", env, cn.Environment["CAMPUS_LDAP_PASSWORD"], ldap.Environment["LDAP_CANONID_PASSWORD"])
		}
		if env != nil && cn.Environment["CANONID_DB_PASSWORD"] != env["CANONID_DB_PASSWORD"] {
			t.Errorf("the environment does not override the placeholder: %q", cn.Environment["CANONID_DB_PASSWORD"])
		}
	}
	if pg.Environment["POSTGRES_USER"] != "canonid" || pg.Environment["POSTGRES_DB"] != "canonid" {
		t.Errorf("postgres environment = %v", pg.Environment)
	}
	if !strings.HasPrefix(mail.Environment["MP_SMTP_TLS_CERT"], "sans:") {
		t.Errorf("mailpit offers no STARTTLS (canonid sends mail only over TLS): %v", mail.Environment)
	}
}

// TestDeployComposeDirectorySeed checks what the directory is seeded with:
// the schemas are those of canonid's directory tests, and the people the
// test fixture's, whose passwords the documentation gives.
func TestDeployComposeDirectorySeed(t *testing.T) {
	const seed, fixture = "../compose/openldap", "../../connectors/ldap/slapdtest"
	for _, name := range []string{"eduperson.ldif", "schac.ldif", "supann.ldif"} {
		got, err1 := os.ReadFile(filepath.Join(seed, "schema", name))
		want, err2 := os.ReadFile(filepath.Join(fixture, "schema", name))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("schema/%s differs from %s/schema/%s", name, fixture, name)
		}
	}
	entries := func(path string) []string {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, block := range strings.Split(string(data), "\n\n") {
			var lines []string
			for _, l := range strings.Split(block, "\n") {
				if l != "" && !strings.HasPrefix(l, "#") {
					lines = append(lines, l)
				}
			}
			if len(lines) > 0 {
				out = append(out, strings.Join(lines, "\n"))
			}
		}
		return out
	}
	people := entries(filepath.Join(seed, "people.ldif"))
	if want := entries(filepath.Join(fixture, "testdata", "people.ldif")); !slices.Equal(people, want) {
		t.Errorf("people.ldif holds other entries than the fixture")
	}
	if len(people) != 8 {
		t.Fatalf("%d people, want 8", len(people))
	}
	for _, p := range people {
		dn, _, _ := strings.Cut(p, "\n")
		if !strings.HasPrefix(dn, "dn: uid=") || !strings.HasSuffix(dn, ",ou=people,dc=univ-test,dc=fr") ||
			!strings.Contains(p, "\nobjectClass: supannPerson\n") || !strings.Contains(p, "\nuserPassword: {SSHA}") {
			t.Errorf("not a SupAnn person with a password under ou=people:\n%s", p)
		}
	}
	script, err := os.ReadFile(filepath.Join(seed, "seed.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`seed=${LDAP_SEED:-/seed}`, `"$seed/people.ldif"`, `"$seed/schema/supann.ldif"`, `urls=${LDAP_URLS:-ldap://:1389/}`} {
		if !bytes.Contains(script, []byte(want)) {
			t.Errorf("seed.sh does not read %s", want)
		}
	}
	if fi, err := os.Stat(filepath.Join(seed, "seed.sh")); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("seed.sh is not executable: %v", err)
	}
}

func TestDeployInterpolate(t *testing.T) {
	env := map[string]string{"SET": "v", "EMPTY": ""}
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"$$SET", "$SET"},
		{"${SET}", "v"},
		{"$SET/x", "v/x"},
		{"${UNSET}", ""},
		{"${UNSET:-d}", "d"},
		{"${EMPTY:-d}", "d"},
		{"${EMPTY-d}", ""},
		{"${UNSET-d}", "d"},
		{"${SET:-d}", "v"},
		{"a${SET}b${UNSET:-c}", "avbc"},
	} {
		if got, err := Interpolate(tc.in, env); err != nil || got != tc.want {
			t.Errorf("Interpolate(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"${UNSET:?needed}", "${EMPTY:?needed}", "${", "$ x"} {
		if _, err := Interpolate(bad, env); err == nil {
			t.Errorf("Interpolate(%q) gave no error", bad)
		}
	}
}

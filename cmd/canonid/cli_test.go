package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// testInfo is the build information the tests run the CLI with.
var testInfo = buildInfo{Version: "1.2.3-test", Commit: "abc1234"}

// writeConfig writes a configuration using a SQLite file in a fresh
// temporary directory, with extra appended, and returns its path.
func writeConfig(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	doc := fmt.Sprintf("log: {level: warn}\nstorage:\n  driver: sqlite\n  dsn: %s\n%s",
		filepath.Join(dir, "db", "canonid.db"), extra)
	path := filepath.Join(dir, "canonid.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// cliResult is what one in-process run of canonid produced.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs canonid with args in-process.
func runCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), testInfo, args, &stdout, &stderr)
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// mustRun runs canonid and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) cliResult {
	t.Helper()
	r := runCLI(t, args...)
	if r.code != 0 {
		t.Fatalf("canonid %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// openTestStore opens the store of a configuration file written by
// writeConfig.
func openTestStore(t *testing.T, cfgPath string) store.Store {
	t.Helper()
	cfg, err := loadConfig(cfgPath, true)
	if err != nil {
		t.Fatal(err)
	}
	st, err := openMigrated(t.Context(), cfg.Storage, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestVersion(t *testing.T) {
	r := mustRun(t, "version")
	if !regexp.MustCompile(`^canonid 1\.2\.3-test \(abc1234, go[0-9.]+.*\)\n$`).MatchString(r.stdout) {
		t.Errorf("version printed %q", r.stdout)
	}

	r = mustRun(t, "version", "--json")
	var v versionInfo
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("version --json printed %q: %v", r.stdout, err)
	}
	if v.Version != "1.2.3-test" || v.Commit != "abc1234" || !strings.HasPrefix(v.Go, "go") {
		t.Errorf("version --json = %+v", v)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"nope"}, `unknown command "nope"`},
		{[]string{"version", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"migrate", "extra"}, `unknown command "extra"`},
		{[]string{"token", "revoke"}, "accepts 1 arg(s)"},
		{[]string{"migrate", "--config", "/nonexistent/canonid.yaml"}, "/nonexistent/canonid.yaml"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCLI(t, tt.args...)
			if r.code != 1 || !strings.HasPrefix(r.stderr, "canonid: ") || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

func TestMigrateTwice(t *testing.T) {
	cfg := writeConfig(t, "")

	r := mustRun(t, "migrate", "--config", cfg)
	if !regexp.MustCompile(`^(applied [0-9]{4}_[a-z0-9_]+\n)+schema at version [0-9]+\n$`).MatchString(r.stdout) {
		t.Errorf("first migrate printed %q", r.stdout)
	}
	if !strings.HasPrefix(r.stdout, "applied 0001_init\n") {
		t.Errorf("first migrate printed %q, want applied 0001_init first", r.stdout)
	}

	r = mustRun(t, "migrate", "--config", cfg)
	if !regexp.MustCompile(`^schema already at version [1-9][0-9]*, nothing to do\n$`).MatchString(r.stdout) {
		t.Errorf("second migrate printed %q", r.stdout)
	}

	r = mustRun(t, "migrate", "--config", cfg, "--json")
	var out migrateOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("migrate --json printed %q: %v", r.stdout, err)
	}
	if len(out.Applied) != 0 || out.Version < 1 {
		t.Errorf("third migrate --json = %+v, want nothing applied", out)
	}
}

func TestMigrateJSON(t *testing.T) {
	r := mustRun(t, "migrate", "--json", "--config", writeConfig(t, ""))
	var out migrateOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("migrate --json printed %q: %v", r.stdout, err)
	}
	if len(out.Applied) == 0 || out.Applied[0] != (migrationOutput{Version: 1, Name: "0001_init"}) || out.Version != len(out.Applied) {
		t.Errorf("migrate --json = %+v", out)
	}
}

func TestTokenCreate(t *testing.T) {
	cfg := writeConfig(t, "")
	r := mustRun(t, "token", "create", "--config", cfg, "--name", "ci", "--role", "support")

	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if lines[0] != "created token ci (role support)" {
		t.Errorf("first line %q", lines[0])
	}
	token := lines[len(lines)-1]
	if !strings.HasPrefix(token, "cnd_") || len(token) < 40 {
		t.Fatalf("last line %q is not a token", token)
	}

	st := openTestStore(t, cfg)
	want := sha256.Sum256([]byte(token))
	err := st.View(t.Context(), func(tx store.Tx) error {
		tokens, err := tx.APITokens().List(t.Context())
		if err != nil {
			return err
		}
		if len(tokens) != 1 {
			return fmt.Errorf("%d tokens stored, want 1", len(tokens))
		}
		got := tokens[0]
		if got.Name != "ci" || got.Role != store.RoleSupport || got.OrgID != "" || !bytes.Equal(got.Hash, want[:]) {
			return fmt.Errorf("stored %+v, want ci/support with the sha256 of the token", got)
		}
		if _, err := tx.APITokens().GetByHash(t.Context(), want[:]); err != nil {
			return fmt.Errorf("lookup by hash: %w", err)
		}

		entries, err := tx.Audit().List(t.Context(), store.AuditQuery{Type: eventAPITokenCreated})
		if err != nil {
			return err
		}
		if len(entries) != 1 {
			return fmt.Errorf("%d %s audit entries, want 1", len(entries), eventAPITokenCreated)
		}
		data := string(entries[0].Data)
		if strings.Contains(data, token) || strings.Contains(data, fmt.Sprintf("%x", want)) || !strings.Contains(data, `"name":"ci"`) {
			return fmt.Errorf("audit data %s", data)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestTokenCreateJSON(t *testing.T) {
	cfg := writeConfig(t, "")
	st := openTestStore(t, cfg)
	if _, err := upsertOrgs(t.Context(), st, []OrgConfig{{ID: "cpts-sud", Name: "CPTS Sud", Kind: "cpts"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()

	r := mustRun(t, "token", "create", "--config", cfg, "--name", "coord", "--role", "org-admin", "--org", "cpts-sud", "--json")
	var out tokenOutput
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("token create --json printed %q: %v", r.stdout, err)
	}
	if out.ID == "" || out.Name != "coord" || out.Role != "org-admin" || out.OrgID != "cpts-sud" || !strings.HasPrefix(out.Token, "cnd_") {
		t.Errorf("token create --json = %+v", out)
	}
	if strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("token create --json printed more than one line: %q", r.stdout)
	}
}

func TestTokenCreateErrors(t *testing.T) {
	cfg := writeConfig(t, "")
	mustRun(t, "token", "create", "--config", cfg, "--name", "taken", "--role", "scim")

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"duplicate name", []string{"--name", "taken", "--role", "support"}, `a token named "taken" already exists`},
		{"org-admin without org", []string{"--name", "a", "--role", "org-admin"}, "--org is required with --role org-admin"},
		{"org with another role", []string{"--name", "b", "--role", "support", "--org", "cpts-sud"}, "--org is only for --role org-admin"},
		{"unknown org", []string{"--name", "c", "--role", "org-admin", "--org", "nowhere"}, `org "nowhere" does not exist`},
		{"unknown role", []string{"--name", "d", "--role", "admin"}, `unknown role "admin"`},
		{"no name", []string{"--role", "support"}, "--name is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"token", "create", "--config", cfg}, tt.args...)
			r := runCLI(t, args...)
			if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, tt.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}

	// Only the first token exists.
	r := mustRun(t, "token", "list", "--config", cfg, "--json")
	var list struct{ Tokens []tokenOutput }
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list.Tokens) != 1 {
		t.Errorf("token list --json = %q (%v), want one token", r.stdout, err)
	}
}

func TestTokenListRevoke(t *testing.T) {
	cfg := writeConfig(t, "")
	r := mustRun(t, "token", "list", "--config", cfg)
	if r.stdout != "NAME  ROLE  ORG  CREATED  REVOKED\n" {
		t.Errorf("empty list printed %q", r.stdout)
	}
	mustRun(t, "token", "create", "--config", cfg, "--name", "ci", "--role", "support")
	mustRun(t, "token", "create", "--config", cfg, "--name", "hr", "--role", "scim")

	r = mustRun(t, "token", "revoke", "ci", "--config", cfg)
	if r.stdout != "revoked token ci\n" {
		t.Errorf("revoke printed %q", r.stdout)
	}
	if r := runCLI(t, "token", "revoke", "ci", "--config", cfg); r.code != 1 || !strings.Contains(r.stderr, `token "ci" is already revoked`) {
		t.Errorf("second revoke: exit %d, %q", r.code, r.stderr)
	}
	if r := runCLI(t, "token", "revoke", "ghost", "--config", cfg); r.code != 1 || !strings.Contains(r.stderr, `no token named "ghost"`) {
		t.Errorf("revoke unknown: exit %d, %q", r.code, r.stderr)
	}

	r = mustRun(t, "token", "list", "--config", cfg)
	rows := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(rows) != 3 || !regexp.MustCompile(`^ci\s+support\s+-\s+\S+\s+20`).MatchString(rows[1]) || !strings.HasSuffix(rows[2], " -") {
		t.Errorf("list printed:\n%s", r.stdout)
	}

	// A revoked token's name can be reused; revoke then finds the live one.
	mustRun(t, "token", "create", "--config", cfg, "--name", "ci", "--role", "scim")
	r = mustRun(t, "token", "revoke", "ci", "--config", cfg, "--json")
	var out tokenOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Role != "scim" || out.RevokedAt == nil {
		t.Errorf("revoke --json printed %q (%v), want the scim token revoked", r.stdout, err)
	}

	st := openTestStore(t, cfg)
	err := st.View(t.Context(), func(tx store.Tx) error {
		entries, err := tx.Audit().List(t.Context(), store.AuditQuery{Type: eventAPITokenRevoked})
		if err != nil {
			return err
		}
		if len(entries) != 2 || !strings.Contains(string(entries[1].Data), `"name":"ci"`) {
			return fmt.Errorf("revoked audit entries %+v", entries)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestServeBadConfig(t *testing.T) {
	cfg := writeConfig(t, `listen: nohost
timezone: Nowhere/Town
log: {format: xml}
shutdown_timeout: 0s
orgs:
  - {id: a, name: A}
  - {id: a, name: B, colour: red}
`)
	r := runCLI(t, "serve", "--config", cfg)
	if r.code != 1 {
		t.Fatalf("serve exited %d, want 1", r.code)
	}
	for _, want := range []string{
		`listen: must be host:port, got "nohost"`,
		`timezone: unknown time zone "Nowhere/Town"`,
		`log: duplicate key (first at line 1)`, // writeConfig wrote one
		`shutdown_timeout: must be positive, got 0s`,
		`orgs[1].id: duplicate "a" (also orgs[0])`,
		`orgs[1].colour: unknown key`,
	} {
		if !strings.Contains(r.stderr, "\n  "+want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if !strings.HasPrefix(r.stderr, "canonid: configuration "+cfg+": 6 problems:\n") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
}

func TestSeedDemo(t *testing.T) {
	st := openTestStore(t, writeConfig(t, ""))
	ctx := t.Context()
	now := time.Date(2025, 12, 18, 10, 35, 0, 0, time.UTC)

	seeded, err := seedDemo(ctx, st, now)
	if err != nil || !seeded {
		t.Fatalf("first seedDemo = %t, %v", seeded, err)
	}
	var head int64
	if head, err = st.Outbox().Head(ctx); err != nil {
		t.Fatal(err)
	}
	seeded, err = seedDemo(ctx, st, now.Add(time.Hour))
	if err != nil || seeded {
		t.Fatalf("second seedDemo = %t, %v, want false, nil", seeded, err)
	}
	if again, _ := st.Outbox().Head(ctx); again != head {
		t.Errorf("second seedDemo wrote events: outbox head %d -> %d", head, again)
	}

	err = st.View(ctx, func(tx store.Tx) error {
		snap, err := tx.Snapshot(ctx)
		if err != nil {
			return err
		}
		if err := identity.CheckInvariants(snap); err != nil {
			return fmt.Errorf("invariants: %w", err)
		}
		if len(snap.Accounts) != 8 {
			t.Errorf("%d accounts, want 8", len(snap.Accounts))
		}

		byLogin := []struct {
			login  string
			status identity.Status
			org    string
			state  identity.MembershipState
		}{
			{"camille.martin", identity.StatusActive, "univ-test", identity.MembershipValidated},     // 000
			{"jdupont", identity.StatusPendingActivation, "univ-test", identity.MembershipValidated}, // 001
			{"franck.cavel", identity.StatusActive, "ecole-emile-zola", identity.MembershipValidated},
			{"franck.cavel3", identity.StatusActive, "ecole-emile-zola", identity.MembershipValidated}, // 002
			{"claire.moreau", identity.StatusActive, "cpts-sud", identity.MembershipValidated},         // 003 coordinator
		}
		for _, w := range byLogin {
			a, err := tx.Accounts().GetByLogin(ctx, w.login)
			if err != nil {
				return fmt.Errorf("%s: %w", w.login, err)
			}
			if a.Status != w.status {
				t.Errorf("%s is %s, want %s", w.login, a.Status, w.status)
			}
			m, err := tx.Memberships().Get(ctx, w.org, a.ID)
			if err != nil || m.State != w.state {
				t.Errorf("%s in %s: %+v, %v; want %s", w.login, w.org, m, err, w.state)
			}
		}

		byEmail := []struct {
			address string
			status  identity.Status
			login   string
		}{
			{"camille.martin@univ-test.fr", identity.StatusActive, "camille.martin"},
			{"cam.martin97@mail.example", identity.StatusActive, ""}, // 000, the agency's account
			{"romain.gentef@ode.example", identity.StatusActive, "franck.cavel3"},
			{"sophie.leroy@infirmiere.example", identity.StatusPendingValidation, ""}, // 003
		}
		for _, w := range byEmail {
			e, err := tx.Emails().FindVerified(ctx, w.address)
			if err != nil {
				return fmt.Errorf("%s: %w", w.address, err)
			}
			a, err := tx.Accounts().Get(ctx, e.AccountID)
			if err != nil {
				return err
			}
			if a.Status != w.status || a.Login != w.login {
				t.Errorf("%s belongs to %q (%s), want %q (%s)", w.address, a.Login, a.Status, w.login, w.status)
			}
		}

		// 000: the two accounts of the intern, one per source.
		uni, _ := tx.Accounts().GetByLogin(ctx, "camille.martin")
		agencyEmail, _ := tx.Emails().FindVerified(ctx, "cam.martin97@mail.example")
		agency, _ := tx.Accounts().Get(ctx, agencyEmail.AccountID)
		if uni.BirthDate != "1997-03-14" || agency.BirthDate != uni.BirthDate || agency.FamilyName != "MARTIN" {
			t.Errorf("intern accounts %+v / %+v", uni, agency)
		}
		if uni.Provenance[identity.FieldLogin] != "ldap:campus" || agency.Provenance[identity.FieldEmail] != "csv:ars-occitanie" {
			t.Errorf("provenance %v / %v", uni.Provenance, agency.Provenance)
		}
		for _, c := range []struct {
			account, source string
		}{{uni.ID, "ldap:campus"}, {agency.ID, "csv:ars-occitanie"}} {
			links, err := tx.Links().ListByAccount(ctx, c.account)
			if err != nil || len(links) != 1 || links[0].Source != c.source {
				t.Errorf("links of %s: %+v, %v; want one %s", c.account, links, err, c.source)
			}
		}

		// 001: the recovery address is an attribute, not a login address.
		jd, _ := tx.Accounts().GetByLogin(ctx, "jdupont")
		if got := jd.Attributes[identity.FieldRecoveryEmail]; len(got) != 1 || got[0] != "julie.dupont@perso.example" {
			t.Errorf("jdupont recovery_email = %v", got)
		}
		if got := jd.Attributes[identity.FieldAffiliation]; strings.Join(got, ",") != "staff,employee" {
			t.Errorf("jdupont affiliation = %v", got)
		}

		// 002: the seed's two birth dates are kept.
		f3, _ := tx.Accounts().GetByLogin(ctx, "franck.cavel3")
		if f3.BirthDate != "1984-10-17" || f3.Phone != "182635151" || f3.GivenName != "FRANCK" {
			t.Errorf("franck.cavel3 = %+v", f3)
		}

		// 003: the pending CPTS membership.
		sl, _ := tx.Emails().FindVerified(ctx, "sophie.leroy@infirmiere.example")
		if m, err := tx.Memberships().Get(ctx, "cpts-sud", sl.AccountID); err != nil || m.State != identity.MembershipPending {
			t.Errorf("sophie.leroy in cpts-sud: %+v, %v", m, err)
		}

		for _, c := range []struct {
			typ  string
			want int
		}{{identity.EventAccountCreated, 8}, {identity.EventMembershipAdded, 6}, {identity.EventOrgUpserted, 4}} {
			entries, err := tx.Audit().List(ctx, store.AuditQuery{Type: c.typ})
			if err != nil {
				return err
			}
			if len(entries) != c.want {
				t.Errorf("%d %s events, want %d", len(entries), c.typ, c.want)
			}
			for _, e := range entries {
				if e.Actor != demoActor {
					t.Errorf("%s event by %q", c.typ, e.Actor)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestUpsertOrgs(t *testing.T) {
	st := openTestStore(t, writeConfig(t, ""))
	ctx := t.Context()
	now := time.Now()
	orgs := []OrgConfig{{ID: "a", Name: "A", Kind: "school"}, {ID: "b", Name: "B"}}

	steps := []struct {
		name string
		orgs []OrgConfig
		want int
	}{
		{"create", orgs, 2},
		{"unchanged", orgs, 0},
		{"rename one", []OrgConfig{{ID: "a", Name: "A2", Kind: "school"}, {ID: "b", Name: "B"}}, 1},
		{"change kind, drop one", []OrgConfig{{ID: "a", Name: "A2", Kind: "university"}}, 1},
		{"none", nil, 0},
	}
	for _, s := range steps {
		n, err := upsertOrgs(ctx, st, s.orgs, now)
		if err != nil || n != s.want {
			t.Errorf("%s: upsertOrgs = %d, %v; want %d", s.name, n, err, s.want)
		}
	}
	err := st.View(ctx, func(tx store.Tx) error {
		list, err := tx.Orgs().List(ctx)
		if err != nil {
			return err
		}
		if len(list) != 2 || list[0].Name != "A2" || list[0].Kind != "university" || list[1].ID != "b" {
			t.Errorf("orgs %+v", list)
		}
		entries, err := tx.Audit().List(ctx, store.AuditQuery{Type: identity.EventOrgUpserted})
		if err != nil {
			return err
		}
		if len(entries) != 4 {
			t.Errorf("%d org.upserted events, want 4", len(entries))
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestRunServe(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, `listen: 127.0.0.1:0
orgs:
  - {id: cpts-sud, name: CPTS Sud, kind: cpts}
`), true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	// stdout is a pipe; the reader forwards its lines.
	pr, pw := io.Pipe()
	lines := make(chan string, 32)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	done := make(chan error, 1)
	go func() {
		err := runServe(ctx, cfg, serveOptions{Demo: true, Version: "1.2.3-test"}, pw)
		pw.Close()
		done <- err
	}()

	var first string
	select {
	case first = <-lines:
	case err := <-done:
		t.Fatalf("runServe returned before serving: %v", err)
	}
	m := regexp.MustCompile(`^canonid 1\.2\.3-test serving on (http://127\.0\.0\.1:[0-9]+) \(storage: sqlite (.+)\)$`).FindStringSubmatch(first)
	if m == nil || strings.HasSuffix(m[1], ":0") || m[2] != cfg.Storage.DSN {
		t.Fatalf("serving line %q", first)
	}
	if summary := <-lines; !strings.HasPrefix(summary, "demo data seeded: ") {
		t.Errorf("demo summary starts with %q", summary)
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(m[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
		}
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("runServe after cancel = %v, want nil", err)
	}
	var rest []string
	for l := range lines {
		rest = append(rest, l)
	}
	if len(rest) != 8 {
		t.Errorf("demo summary has %d more lines, want one per account:\n%s", len(rest), strings.Join(rest, "\n"))
	}
}

func TestRunServeListenError(t *testing.T) {
	// The address is taken: serve must fail, not wait.
	var lc net.ListenConfig
	busy, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg, err := loadConfig(writeConfig(t, "listen: "+busy.Addr().String()+"\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	err = runServe(t.Context(), cfg, serveOptions{}, &stdout)
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("runServe = %v, want a listen error", err)
	}
	if stdout.Len() > 0 {
		t.Errorf("stdout %q, want nothing", stdout.String())
	}
}

// TestPostgres runs the commands against PostgreSQL when
// CANONID_TEST_POSTGRES is set (a fresh schema each run).
func TestPostgres(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	quoted, _ := json.Marshal(strings.ReplaceAll(dsn, "$", "$$")) // a JSON string is a YAML one
	path := filepath.Join(t.TempDir(), "canonid.yaml")
	doc := fmt.Sprintf("log: {level: warn}\nstorage:\n  driver: postgres\n  dsn: %s\n", quoted)
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}

	if r := mustRun(t, "migrate", "--config", path); !strings.HasPrefix(r.stdout, "applied 0001_init\n") {
		t.Errorf("first migrate printed %q", r.stdout)
	}
	if r := mustRun(t, "migrate", "--config", path); !strings.Contains(r.stdout, "nothing to do") {
		t.Errorf("second migrate printed %q", r.stdout)
	}

	st := openTestStore(t, path)
	for range 2 {
		if _, err := seedDemo(t.Context(), st, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	r := mustRun(t, "token", "create", "--config", path, "--name", "coord", "--role", "org-admin", "--org", "cpts-sud")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	hash := sha256.Sum256([]byte(lines[len(lines)-1]))
	err := st.View(t.Context(), func(tx store.Tx) error {
		snap, err := tx.Snapshot(t.Context())
		if err != nil {
			return err
		}
		if len(snap.Accounts) != 8 {
			t.Errorf("%d accounts, want 8", len(snap.Accounts))
		}
		if err := identity.CheckInvariants(snap); err != nil {
			return err
		}
		tok, err := tx.APITokens().GetByHash(t.Context(), hash[:])
		if err != nil || tok.OrgID != "cpts-sud" {
			return fmt.Errorf("token by hash: %+v, %w", tok, err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestOpenStore(t *testing.T) {
	dir := t.TempDir()
	for _, dsn := range []string{
		filepath.Join(dir, "a", "b", "canonid.db"),
		"file:" + filepath.Join(dir, "c", "canonid.db") + "?_pragma=cache_size(-2000)",
	} {
		st, err := openStore(t.Context(), store.Config{Driver: "sqlite", DSN: dsn}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		if err := st.Ping(t.Context()); err != nil {
			t.Error(err)
		}
		st.Close()
	}
	if _, err := openStore(t.Context(), store.Config{Driver: "mysql", DSN: "x"}, nil); err == nil {
		t.Error("unknown driver opened")
	}
}

func TestDescribeStorage(t *testing.T) {
	tests := []struct {
		cfg  store.Config
		want string
	}{
		{store.Config{Driver: "sqlite", DSN: "data/canonid.db"}, "sqlite data/canonid.db"},
		{store.Config{Driver: "postgres", DSN: "postgres://canonid:s3cret@db.example:5432/canonid?sslmode=require&password=s3cret"},
			"postgres postgres://canonid@db.example:5432/canonid"},
		{store.Config{Driver: "postgres", DSN: "postgresql://db.example/canonid"}, "postgres postgresql://db.example/canonid"},
		{store.Config{Driver: "postgres", DSN: "host=db.example port=5432 user=canonid password=s3cret dbname=canonid sslmode=require"},
			"postgres host=db.example port=5432 user=canonid dbname=canonid"},
		{store.Config{Driver: "postgres", DSN: "host=db password='s3cret with spaces' dbname=x"}, "postgres host=db dbname=x"},
	}
	for _, tt := range tests {
		got := describeStorage(tt.cfg)
		if got != tt.want || strings.Contains(got, "s3cret") {
			t.Errorf("describeStorage(%q) = %q, want %q", tt.cfg.DSN, got, tt.want)
		}
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	newLogger(LogConfig{Level: "warn", Format: "json"}, &buf).Info("hidden")
	newLogger(LogConfig{Level: "warn", Format: "json"}, &buf).Warn("shown")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["msg"] != "shown" {
		t.Errorf("json logger wrote %q", buf.String())
	}
	buf.Reset()
	newLogger(LogConfig{Level: "debug", Format: "text"}, &buf).Debug("hello")
	if !strings.Contains(buf.String(), "level=DEBUG msg=hello") {
		t.Errorf("text logger wrote %q", buf.String())
	}
}

package main

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/bench/internal/benchtest"
	"github.com/canonid/canonid/identity"
)

// The harness tests run the whole harness small and check its report and
// its own verification. They time nothing.

func TestRunSQLite(t *testing.T) {
	testRun(t, config{Driver: "sqlite", Dir: benchtest.SQLiteDir(t)})
}

func TestRunPostgres(t *testing.T) {
	dsn, prefix := benchtest.Postgres(t)
	testRun(t, config{Driver: "postgres", DSN: dsn, SchemaPrefix: prefix})
}

// testRun runs every phase with 3 clients and 40 operations a phase,
// checks what the clients did to their users, checks that
// the harness's own verification catches a wrong value, and checks the
// report.
func testRun(t *testing.T, cfg config) {
	const n = 40
	cfg.Clients, cfg.N, cfg.Slice = 3, n, 20*time.Millisecond
	inspected := false
	cfg.inspect = func(ctx context.Context, db *database, h *harness) error {
		inspected = true
		rounds := 0
		for w := range h.clients {
			if len(h.scimUsers[w]) == 0 || len(h.refUsers[w]) == 0 {
				t.Errorf("client %d wrote %d users through SCIM, %d by the reference", w+1, len(h.scimUsers[w]), len(h.refUsers[w]))
			}
			for _, us := range [][]*user{h.scimUsers[w], h.refUsers[w]} {
				for _, u := range us {
					if !u.gone {
						t.Errorf("user %s was not deactivated", u.p.login)
					}
					rounds += u.p.round
				}
			}
		}
		if rounds != 2*n {
			t.Errorf("%d patch rounds in all, want %d", rounds, 2*n)
		}
		// The verification must see a value the store does not hold.
		u := h.scimUsers[0][0]
		saved := u.p
		u.p.family = "Nobody"
		_, err := h.verify(ctx)
		u.p = saved
		if err == nil || !strings.Contains(err.Error(), u.id) {
			t.Errorf("verify with a wrong family name for %s: %v", u.id, err)
		}
		if _, err := h.verify(ctx); err != nil {
			t.Errorf("verify again: %v", err)
		}
		return nil
	}

	rep, err := run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !inspected {
		t.Error("the database was not inspected")
	}
	if rep.DBVersion == "" || rep.DBSettings == "" || rep.Machine == "" || rep.LoadStart == "" {
		t.Errorf("not described: version %q, settings %q, machine %q, load %q", rep.DBVersion, rep.DBSettings, rep.Machine, rep.LoadStart)
	}
	if rep.Accounts != 2*n {
		t.Errorf("%d accounts, want %d", rep.Accounts, 2*n)
	}
	var names []string
	byName := map[string]phaseResult{}
	for _, p := range rep.Phases {
		names = append(names, p.Phase)
		byName[p.Phase] = p
	}
	wantNames := []string{"create", "create-ref", "patch", "patch-ref", "deactivate", "deactivate-ref"}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("phases %v, want %v", names, wantNames)
	}
	events := map[string][]string{
		"create": {identity.EventAccountCreated}, "patch": {identity.EventAccountUpdated},
		"deactivate": {identity.EventLinkGone, identity.EventAccountSuspended},
	}
	for _, p := range rep.Phases {
		if p.Count != n || p.Exhausted {
			t.Errorf("phase %s: %d operations, exhausted %v; want %d", p.Phase, p.Count, p.Exhausted, n)
		}
		if !(0 < p.P50 && p.P50 <= p.P90 && p.P90 <= p.P99 && p.P99 <= p.P999 && p.P999 <= p.Max && p.Mean <= p.Max) {
			t.Errorf("phase %s: p50 %v, p90 %v, p99 %v, p99.9 %v, max %v, mean %v: out of order", p.Phase, p.P50, p.P90, p.P99, p.P999, p.Max, p.Mean)
		}
		if p.Wall <= 0 || p.Rate <= 0 || p.Load == "" || p.Turns < 1 {
			t.Errorf("phase %s: wall %v, rate %v, load %q, %d turns", p.Phase, p.Wall, p.Rate, p.Load, p.Turns)
		}
		for _, typ := range events[strings.TrimSuffix(p.Phase, "-ref")] {
			if p.Events[typ] != n {
				t.Errorf("phase %s: %d %s events, want %d", p.Phase, p.Events[typ], typ, n)
			}
		}
		if strings.HasSuffix(p.Phase, "-ref") {
			if p.Reference != "" || p.RatioP50 != 0 || p.Statuses != nil {
				t.Errorf("reference %s has a reference %q, ratio %v or statuses %v", p.Phase, p.Reference, p.RatioP50, p.Statuses)
			}
			continue
		}
		ok := p.Statuses[201] == n && len(p.Statuses) == 1 // create
		if p.Phase != "create" {
			ok = p.Statuses[200]+p.Statuses[204] == n &&
				!slices.ContainsFunc(slices.Collect(maps.Keys(p.Statuses)), func(c int) bool { return c != 200 && c != 204 })
		}
		if !ok {
			t.Errorf("phase %s: statuses %v, want %d answers 201 (create) or 200/204 (patch)", p.Phase, p.Statuses, n)
		}
		ref := byName[p.Reference]
		if p.Reference != p.Phase+"-ref" || p.RatioP50 != float64(p.P50)/float64(ref.P50) ||
			p.RatioP99 != float64(p.P99)/float64(ref.P99) || p.RatioRate != ref.Rate/p.Rate {
			t.Errorf("phase %s: reference %q, ratios %v / %v / %v, inconsistent with %+v", p.Phase, p.Reference, p.RatioP50, p.RatioP99, p.RatioRate, ref)
		}
	}
	var out bytes.Buffer
	if err := printText(&out, rep); err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Phases {
		if !strings.Contains(out.String(), "| "+p.Title+" | ") {
			t.Errorf("the Markdown table has no row for %s:\n%s", p.Phase, out.String())
		}
	}
}

// TestRunDuration bounds the phases by time alone, in turns of a third of
// it: each phase must stop near its bound (a turn ends with the operations
// under way, so it may last up to one more operation, and there may be
// fewer turns), or when its users run out.
func TestRunDuration(t *testing.T) {
	const d = 150 * time.Millisecond
	rep, err := run(context.Background(), config{Driver: "sqlite", Dir: t.TempDir(), Clients: 2, Duration: d, Slice: d / 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Phases {
		if p.Count == 0 || p.Wall > d+time.Duration(p.Turns)*(p.Max+100*time.Millisecond) || p.Turns < 1 || p.Turns > 3 || (!p.Exhausted && p.Wall < d) {
			t.Errorf("phase %s: %d operations in %v and %d turns, exhausted %v; want some, in about %v and at most 3 turns", p.Phase, p.Count, p.Wall, p.Turns, p.Exhausted, d)
		}
	}
	if rep.Accounts != rep.Phases[0].Count+rep.Phases[1].Count {
		t.Errorf("%d accounts, want %d created through SCIM and %d by the reference", rep.Accounts, rep.Phases[0].Count, rep.Phases[1].Count)
	}
}

// TestGenerate checks that generation is deterministic and that no two
// persons, whether of SCIM or of the reference, created or patched, share
// a login, an address, an employee number or an external id.
func TestGenerate(t *testing.T) {
	seen := map[string]string{}
	claim := func(what, v, who string) {
		if prev, ok := seen[what+" "+v]; ok && prev != who {
			t.Fatalf("%s %s of %s is also %s's", what, v, who, prev)
		}
		seen[what+" "+v] = who
	}
	for i := range 500 {
		for _, ref := range []bool{false, true} {
			p := generate(i, ref)
			if p != generate(i, ref) {
				t.Fatalf("person %d (ref %v) differs between two generations", i, ref)
			}
			who := p.externalID
			claim("login", p.login, who)
			claim("employee number", p.employeeNum, who)
			claim("external id", p.externalID, who)
			if p.login != identity.NormalizeLogin(p.userName) || !identity.ValidEmail(p.email) {
				t.Errorf("person %d: login %q or address %q is wrong", i, p.login, p.email)
			}
			for r := range 4 {
				q := p.patched(r)
				if q.email != identity.NormalizeEmail(q.email) || q.login != p.login || q.externalID != p.externalID {
					t.Errorf("person %d, round %d: %+v", i, r, q)
				}
				claim("address", q.email, who)
			}
		}
	}
}

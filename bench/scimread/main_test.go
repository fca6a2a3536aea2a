package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/canonid/canonid/bench/internal/benchtest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// The harness tests run the whole harness small and check, through the
// store itself, that setup wrote what the SCIM server needs, and that the
// report is complete and consistent. They time nothing.

func TestRunSQLite(t *testing.T) {
	testRun(t, config{Driver: "sqlite", Dir: benchtest.SQLiteDir(t)})
}

func TestRunPostgres(t *testing.T) {
	dsn, prefix := benchtest.Postgres(t)
	testRun(t, config{Driver: "postgres", DSN: dsn, SchemaPrefix: prefix})
}

// testRun runs every phase on n = 300 accounts, with setup transactions and
// INSERTs that leave partial last ones, checks the database through the
// store before it is dropped, and checks the report.
func testRun(t *testing.T, cfg config) {
	const n = 300
	cfg.N, cfg.Batch, cfg.perInsert = n, 128, 50
	cfg.Lookups, cfg.MissPercent = 60, 10
	cfg.Pages, cfg.PageSize, cfg.Clients, cfg.RandomPages = 3, 100, 2, 4
	cfg.Groups = allGroups
	inspected := false
	cfg.inspect = func(ctx context.Context, db *database) error {
		inspected = true
		var snap identity.Snapshot
		err := db.Store.View(ctx, func(tx store.Tx) error {
			var err error
			snap, err = tx.Snapshot(ctx)
			return err
		})
		if err != nil {
			return err
		}
		head, err := db.Store.Outbox().Head(ctx)
		if err != nil {
			return err
		}
		tokens := 2 + cfg.Clients // bench, check and the walkers
		if len(snap.Accounts) != n || len(snap.Emails) != n || len(snap.Links) != n || int(head) != tokens {
			t.Errorf("%d accounts, %d e-mails, %d links, outbox head %d; want %d, %d, %d, %d",
				len(snap.Accounts), len(snap.Emails), len(snap.Links), head, n, n, n, tokens)
		}
		want := map[string]person{}
		for i := range n {
			p := generate(i)
			want[p.id] = p
		}
		for _, a := range snap.Accounts {
			p, ok := want[a.ID]
			if !ok {
				t.Errorf("account %s was not generated", a.ID)
				continue
			}
			if a.Status != identity.StatusActive || a.Login != p.login || a.GivenName != p.given || a.FamilyName != p.family ||
				a.DisplayName != p.display || a.Version != 1 || !a.CreatedAt.Equal(p.created) || a.Provenance["login"] != benchSource ||
				!slices.Equal(a.Attributes["supann_emp_id"], []string{p.employeeNum}) {
				t.Errorf("account %s: %+v, want %+v", a.ID, a, p)
			}
		}
		for _, e := range snap.Emails {
			if p := want[e.AccountID]; e.Address != p.email || !e.Verified || !e.Primary || e.Source != benchSource {
				t.Errorf("e-mail %+v, want %s verified and primary, from %s", e, p.email, benchSource)
			}
		}
		for _, l := range snap.Links {
			if p := want[l.AccountID]; l.Source != benchSource || l.ExternalID != p.externalID || l.Status != identity.LinkActive ||
				!slices.Equal(l.Attributes["userName"], []string{p.login}) {
				t.Errorf("link %+v, want %s/%s, active, with the user's snapshot", l, benchSource, p.externalID)
			}
		}
		if err := identity.CheckInvariants(snap); err != nil {
			t.Errorf("invariants violated:\n%v", err)
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
	if rep.DBVersion == "" || rep.DBSettings == "" || rep.Machine == "" || rep.DBBytes <= 0 {
		t.Errorf("database not described: version %q, settings %q, machine %q, %d bytes", rep.DBVersion, rep.DBSettings, rep.Machine, rep.DBBytes)
	}
	wantRows := rowCounts{Accounts: n, ActiveAccounts: n, Emails: n, VerifiedPrimary: n, Links: n, APITokens: 4, OutboxHead: 4}
	if rep.Rows != wantRows {
		t.Errorf("rows %+v, want %+v", rep.Rows, wantRows)
	}
	var names []string
	byName := map[string]phaseResult{}
	for _, p := range rep.Phases {
		names = append(names, p.Phase)
		byName[p.Phase] = p
	}
	wantNames := []string{"lookup", "lookup-ref", "walk", "walk-ref", "concurrent", "concurrent-ref", "random", "random-ref"}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("phases %v, want %v", names, wantNames)
	}
	counts := map[string]int{
		"lookup": cfg.Lookups, "lookup-ref": cfg.Lookups, "walk": cfg.Pages, "walk-ref": cfg.Pages,
		"concurrent": cfg.Clients * cfg.Pages, "concurrent-ref": cfg.Clients * cfg.Pages, "random": cfg.RandomPages, "random-ref": cfg.RandomPages,
	}
	firsts := map[string]int{"walk": 1, "walk-ref": 1, "concurrent": cfg.Clients, "concurrent-ref": cfg.Clients, "random": 1, "random-ref": 1}
	for _, p := range rep.Phases {
		if p.Count != counts[p.Phase] {
			t.Errorf("phase %s: count %d, want %d", p.Phase, p.Count, counts[p.Phase])
		}
		if !(0 < p.P50 && p.P50 <= p.P90 && p.P90 <= p.P99 && p.P99 <= p.P999 && p.P999 <= p.Max && p.Mean <= p.Max) {
			t.Errorf("phase %s: p50 %v, p90 %v, p99 %v, p99.9 %v, max %v, mean %v: out of order", p.Phase, p.P50, p.P90, p.P99, p.P999, p.Max, p.Mean)
		}
		if p.Wall <= 0 || p.Rate <= 0 || p.Load == "" {
			t.Errorf("phase %s: wall %v, rate %v, load %q", p.Phase, p.Wall, p.Rate, p.Load)
		}
		if len(p.FirstPages) != firsts[p.Phase] {
			t.Errorf("phase %s: %d first pages, want %d", p.Phase, len(p.FirstPages), firsts[p.Phase])
		}
		if strings.HasSuffix(p.Phase, "-ref") {
			if p.Reference != "" || p.RatioP50 != 0 {
				t.Errorf("reference %s has a reference %q or ratio %v", p.Phase, p.Reference, p.RatioP50)
			}
			continue
		}
		ref := byName[p.Reference]
		if p.Reference != p.Phase+"-ref" || p.RatioP50 != float64(p.P50)/float64(ref.P50) ||
			p.RatioP99 != float64(p.P99)/float64(ref.P99) || p.RatioRate != ref.Rate/p.Rate {
			t.Errorf("phase %s: reference %q, ratios %v / %v / %v, inconsistent with %+v", p.Phase, p.Reference, p.RatioP50, p.RatioP99, p.RatioRate, ref)
		}
	}
	for _, name := range []string{"lookup", "lookup-ref"} {
		p := byName[name]
		if p.Hits+p.Misses != cfg.Lookups || p.Misses == 0 || p.Hits == 0 {
			t.Errorf("phase %s: %d found, %d unknown: want both, %d in all", name, p.Hits, p.Misses, cfg.Lookups)
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

// TestGenerate checks that generation is deterministic, that no two
// persons share an id, a login, an address or an external id, and that
// logins and addresses are stored as the store normalises them.
func TestGenerate(t *testing.T) {
	const n = 2000
	seen := map[string]bool{}
	for i := range n {
		p, again := generate(i), generate(i)
		if p != again {
			t.Fatalf("person %d differs between two generations: %+v, %+v", i, p, again)
		}
		if p.login != identity.NormalizeLogin(p.login) || p.email != identity.NormalizeEmail(p.email) || !identity.ValidEmail(p.email) {
			t.Errorf("person %d: login %q or address %q is not normalised", i, p.login, p.email)
		}
		for _, k := range []string{"id " + p.id, "login " + p.login, "e-mail " + p.email, "external id " + p.externalID} {
			if seen[k] {
				t.Fatalf("%s generated twice", k)
			}
			seen[k] = true
		}
	}
	keys := newDraws(1).lookups(1000, n, 10)
	if !slices.Equal(keys, newDraws(1).lookups(1000, n, 10)) {
		t.Error("lookups differ between two draws of the same stream")
	}
	misses := 0
	for _, k := range keys {
		if k >= n {
			misses++
		}
	}
	if misses < 50 || misses > 150 {
		t.Errorf("%d misses in 1000 lookups, want about 100", misses)
	}
	for _, s := range newDraws(4).startIndexes(1000, n, 100) {
		if s < 1 || s+100-1 > n {
			t.Fatalf("startIndex %d: the page of 100 is not within 1..%d", s, n)
		}
	}
}

func TestPageIDs(t *testing.T) {
	body := []byte(`{"Resources":[{"emails":[{"value":"a@b.fr"}],"id":"1","meta":{"version":"W/\"1\""}},{"id":"2","urn:x":{"orgs":[{"value":"o"}]}}],"totalResults":12}`)
	if got := pageIDs(body, nil); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("pageIDs: got %v, want [1 2]", got)
	}
	if !hasNumber(body, []byte(`"totalResults":12`)) || hasNumber(body, []byte(`"totalResults":1`)) {
		t.Error("hasNumber: want totalResults 12, not 1")
	}
}

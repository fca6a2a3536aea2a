package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/bench/internal/benchtest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// The harness tests run the whole harness small and check, through the
// store itself, that it merged, undid and wrote what it says, and that its
// report is complete and consistent. They time nothing.

func TestRunSQLite(t *testing.T) {
	testRun(t, config{Driver: "sqlite", Dir: benchtest.SQLiteDir(t)})
}

func TestRunPostgres(t *testing.T) {
	dsn, prefix := benchtest.Postgres(t)
	testRun(t, config{Driver: "postgres", DSN: dsn, SchemaPrefix: prefix})
}

// testRun runs the harness with n = 20 and a setup batch that leaves a
// partial last batch, checks the database through the store before it is
// dropped, checks that verify rejects a database with one more merge, and
// checks the report.
func testRun(t *testing.T, cfg config) {
	const n = 20
	cfg.N, cfg.Batch = n, 7
	inspected := false
	cfg.inspect = func(ctx context.Context, r *runState) error {
		inspected = true
		st := r.store
		var snap identity.Snapshot
		var merged, unmerged []store.AuditEntry
		err := st.View(ctx, func(tx store.Tx) error {
			var err error
			if snap, err = tx.Snapshot(ctx); err != nil {
				return err
			}
			if merged, err = tx.Audit().List(ctx, store.AuditQuery{Type: identity.EventAccountMerged, Limit: 2 * n}); err != nil {
				return err
			}
			unmerged, err = tx.Audit().List(ctx, store.AuditQuery{Type: identity.EventAccountUnmerged, Limit: 2 * n})
			return err
		})
		if err != nil {
			return err
		}
		head, err := st.Outbox().Head(ctx)
		if err != nil {
			return err
		}
		undone := 0
		for _, m := range snap.Merges {
			if m.Undone() {
				undone++
			}
			if len(m.Moved.Links) != linksPerAccount {
				t.Errorf("merge %s moved %d links, want %d", m.ID, len(m.Moved.Links), linksPerAccount)
			}
		}
		for _, c := range []struct {
			what      string
			got, want int
		}{
			{"accounts", len(snap.Accounts), 2 * n},
			{"links", len(snap.Links), 2 * n * linksPerAccount},
			{"e-mails", len(snap.Emails), 2 * n * emailsPerAccount},
			{"merge records", len(snap.Merges), n},
			{"undone merges", undone, n},
			{"account.merged audit entries", len(merged), n},
			{"account.unmerged audit entries", len(unmerged), n},
			// Orgs and accounts at setup, then merge, undo, reference.
			{"outbox head", int(head), len(orgs) + 2*n + 3*n},
		} {
			if c.got != c.want {
				t.Errorf("%s: got %d, want %d", c.what, c.got, c.want)
			}
		}
		if err := identity.CheckInvariants(snap); err != nil {
			t.Errorf("invariants violated:\n%v", err)
		}

		// verify must notice a merge the run did not make and leaves
		// standing.
		svc := accounts.New(st, accounts.DefaultConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if _, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: r.ppl[0].account.ID, RetiredID: r.ppl[1].account.ID,
			Reason: identity.MergeByAdmin, Actor: "test"}); err != nil {
			return err
		}
		err = verify(ctx, r)
		if err == nil || !strings.Contains(err.Error(), "was not made by the run") {
			t.Errorf("verify after an extra merge: got %v, want an error naming the merge", err)
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
	if rep.DBVersion == "" || rep.DBSettings == "" || rep.Machine == "" {
		t.Errorf("database not described: version %q, settings %q, machine %q", rep.DBVersion, rep.DBSettings, rep.Machine)
	}
	if rep.N != n || rep.Accounts != 2*n || rep.LinksPerAccount != 10 {
		t.Errorf("report: n %d, %d accounts, %d links each; want %d, %d, 10", rep.N, rep.Accounts, rep.LinksPerAccount, n, 2*n)
	}
	names := []string{}
	for _, p := range rep.Phases {
		names = append(names, p.Phase)
	}
	if want := []string{phaseMerge, phaseUndo, phaseReference}; !slices.Equal(names, want) {
		t.Fatalf("phases %v, want %v", names, want)
	}
	ref := rep.Phases[2]
	for _, p := range rep.Phases {
		if p.Count != n {
			t.Errorf("phase %s: count %d, want %d", p.Phase, p.Count, n)
		}
		if !(0 < p.P50 && p.P50 <= p.P90 && p.P90 <= p.P99 && p.P99 <= p.Max && 0 < p.Mean && p.Mean <= p.Max) {
			t.Errorf("phase %s: p50 %v, p90 %v, p99 %v, max %v, mean %v: want 0 < p50 <= p90 <= p99 <= max and 0 < mean <= max",
				p.Phase, p.P50, p.P90, p.P99, p.Max, p.Mean)
		}
		want50, want99 := float64(p.P50)/float64(ref.P50), float64(p.P99)/float64(ref.P99)
		if math.Abs(p.RatioP50-want50) > 1e-9 || math.Abs(p.RatioP99-want99) > 1e-9 {
			t.Errorf("phase %s: ratios %v / %v, want %v / %v", p.Phase, p.RatioP50, p.RatioP99, want50, want99)
		}
	}
	if ref.RatioP50 != 1 || ref.RatioP99 != 1 {
		t.Errorf("reference ratios %v / %v, want 1 / 1", ref.RatioP50, ref.RatioP99)
	}
	var out bytes.Buffer
	if err := printText(&out, rep); err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Phases {
		if !strings.Contains(out.String(), "| "+p.Title+" | 20 | ") {
			t.Errorf("the Markdown table has no row for %s:\n%s", p.Phase, out.String())
		}
	}
}

func TestSummarize(t *testing.T) {
	lat := []time.Duration{5, 1, 4, 2, 3} // unsorted on purpose
	s := summarize(lat)
	if s.Count != 5 || s.P50 != 3 || s.P90 != 5 || s.P99 != 5 || s.Max != 5 || s.Mean != 3 || s.Total != 15 {
		t.Errorf("summarize: got %+v", s)
	}
	if !slices.IsSorted(lat) {
		t.Errorf("summarize left %v unsorted", lat)
	}
}

// TestPeople checks that generation is deterministic, that no two accounts
// share an id, a login, an address or an external id, and that every
// account has its ten links, one per source.
func TestPeople(t *testing.T) {
	const n = 300
	p1, err := people(n)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := people(n)
	if len(p1) != 2*n {
		t.Fatalf("%d accounts, want %d", len(p1), 2*n)
	}
	seen := map[string]bool{}
	for i := range p1 {
		a, b := &p1[i], &p2[i]
		if a.account.ID != b.account.ID || a.account.Login != b.account.Login || a.links[9].ExternalID != b.links[9].ExternalID {
			t.Fatalf("account %d differs between two generations", i)
		}
		keys := []string{"id " + a.account.ID, "login " + a.account.Login}
		sources := map[string]bool{}
		for _, l := range a.links {
			keys = append(keys, "link "+l.Source+"/"+l.ExternalID)
			sources[l.Source] = true
			if l.AccountID != a.account.ID {
				t.Errorf("account %d: link %s/%s belongs to %s", i, l.Source, l.ExternalID, l.AccountID)
			}
		}
		if len(sources) != linksPerAccount {
			t.Errorf("account %d: links from %d sources, want %d", i, len(sources), linksPerAccount)
		}
		for _, e := range a.emails {
			keys = append(keys, "e-mail "+e.Address)
			if e.Address != identity.NormalizeEmail(e.Address) || !identity.ValidEmail(e.Address) {
				t.Errorf("account %d: address %q is not valid and normalised", i, e.Address)
			}
		}
		if !a.emails[0].Verified || !a.emails[0].Primary || a.emails[1].Verified || a.emails[1].Primary {
			t.Errorf("account %d: e-mails %+v, want one verified primary and one pending", i, a.emails)
		}
		for _, k := range keys {
			if seen[k] {
				t.Fatalf("%s generated twice", k)
			}
			seen[k] = true
		}
	}
}

package main

import (
	"context"
	"testing"

	"github.com/canonid/canonid/bench/internal/benchtest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// The harness tests check that each phase writes what it claims, read back
// through the store itself; they time nothing.

func TestHarnessSQLite(t *testing.T) {
	testHarness(t, config{Driver: "sqlite", Dir: benchtest.SQLiteDir(t)})
}

func TestHarnessPostgres(t *testing.T) {
	dsn, prefix := benchtest.Postgres(t)
	testHarness(t, config{Driver: "postgres", DSN: dsn, SchemaPrefix: prefix})
}

// testHarness runs every phase with n accounts and a batch size that leaves
// a partial last batch, and checks each phase's database through the store.
func testHarness(t *testing.T, cfg config) {
	const n = 200
	cfg.N, cfg.Batch, cfg.Phases = n, 64, allPhases
	inspected := map[phase]bool{}
	cfg.inspect = func(ctx context.Context, p phase, st store.Store) error {
		inspected[p] = true
		var snap identity.Snapshot
		var audit []store.AuditEntry
		err := st.View(ctx, func(tx store.Tx) error {
			var err error
			if snap, err = tx.Snapshot(ctx); err != nil {
				return err
			}
			audit, err = tx.Audit().List(ctx, store.AuditQuery{Limit: 2 * n})
			return err
		})
		if err != nil {
			return err
		}
		head, err := st.Outbox().Head(ctx)
		if err != nil {
			return err
		}
		events := 0
		if p.canonid() {
			events = n
		}
		for _, c := range []struct {
			what      string
			got, want int
		}{
			{"accounts", len(snap.Accounts), n},
			{"links", len(snap.Links), 2 * n},
			{"e-mails", len(snap.Emails), 2 * n},
			{"audit entries", len(audit), events},
			{"outbox head", int(head), events},
		} {
			if c.got != c.want {
				t.Errorf("phase %s: %s: got %d, want %d", p, c.what, c.got, c.want)
			}
		}
		for _, e := range audit {
			if e.Type != identity.EventAccountCreated || e.Actor != "bench" || e.AccountID == "" {
				t.Errorf("phase %s: audit entry %+v, want an account.created by bench about an account", p, e)
				break
			}
		}
		verified := 0
		for _, e := range snap.Emails {
			if e.Verified {
				verified++
				if !e.Primary {
					t.Errorf("phase %s: verified address %s is not primary", p, e.Address)
				}
			}
		}
		if verified != n {
			t.Errorf("phase %s: %d verified addresses, want %d", p, verified, n)
		}
		if err := identity.CheckInvariants(snap); err != nil {
			t.Errorf("phase %s: invariants violated:\n%v", p, err)
		}
		return nil
	}

	rep, err := run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Phases) != len(allPhases) {
		t.Fatalf("report has %d phases, want %d", len(rep.Phases), len(allPhases))
	}
	for _, r := range rep.Phases {
		if !inspected[r.Phase] {
			t.Errorf("phase %s was not inspected", r.Phase)
		}
		rows := n * dataRowsPerAccount
		if r.Phase.canonid() {
			rows += n * eventRowsPerAccount
		}
		wantTx := map[phase]int{phaseUnbatched: n, phaseBatched: 4, phaseReference: 4}[r.Phase]
		if r.Accounts != n || r.Rows != rows || r.Transactions != wantTx {
			t.Errorf("phase %s: reported %d accounts, %d rows, %d transactions; want %d, %d, %d",
				r.Phase, r.Accounts, r.Rows, r.Transactions, n, rows, wantTx)
		}
		if r.Elapsed <= 0 || r.AccountsPerSec <= 0 || r.Ratio <= 0 {
			t.Errorf("phase %s: elapsed %v, %v accounts/s, ratio %v: want all positive", r.Phase, r.Elapsed, r.AccountsPerSec, r.Ratio)
		}
	}
	if rep.DBVersion == "" || rep.DBSettings == "" {
		t.Errorf("database not described: version %q, settings %q", rep.DBVersion, rep.DBSettings)
	}
}

// TestPeople checks that generation is deterministic and that phases never
// share an id, a login, an address or an external id.
func TestPeople(t *testing.T) {
	const n = 500
	a1, err := people(phaseUnbatched, n)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := people(phaseUnbatched, n)
	for i := range a1 {
		if a1[i].account.ID != a2[i].account.ID || a1[i].links[0].ExternalID != a2[i].links[0].ExternalID || a1[i].account.Login != a2[i].account.Login {
			t.Fatalf("account %d differs between two generations of the same phase", i)
		}
	}
	seen := map[string]phase{}
	for _, p := range allPhases {
		ppl, err := people(p, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, pr := range ppl {
			keys := []string{"id " + pr.account.ID, "login " + pr.account.Login}
			for _, l := range pr.links {
				keys = append(keys, "link "+l.Source+"/"+l.ExternalID)
			}
			for _, e := range pr.emails {
				keys = append(keys, "e-mail "+e.Address)
			}
			for _, k := range keys {
				if q, dup := seen[k]; dup {
					t.Fatalf("%s generated twice (phases %s and %s)", k, q, p)
				}
				seen[k] = p
			}
		}
	}
}

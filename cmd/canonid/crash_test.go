package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/connectors/ldap/slapdtest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// killer kills canonid runs at random points: uniformly within the time a
// run takes, which it learns from the runs that end before their kill.
type killer struct {
	rng   *rand.Rand
	span  time.Duration // a run's length, as far as known
	kills int
	runs  int
}

// run runs canonid args and kills it at a random point; it reports whether
// the kill came first.
func (k *killer) run(t *testing.T, cfg string, args ...string) bool {
	t.Helper()
	delay := time.Duration(k.rng.Int64N(int64(k.span)))
	start := time.Now()
	fired := killed(t, cfg, delay, args...)
	k.runs++
	if fired {
		k.kills++
	} else {
		k.span = max(time.Since(start), 10*time.Millisecond)
	}
	return fired
}

// killed runs canonid args as a process of its own and kills it (SIGKILL)
// after delay, unless it ended before. It reports whether the kill came
// first.
func killed(t *testing.T, cfg string, delay time.Duration, args ...string) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], append(args, "--config", cfg)...)
	cmd.Env = append(os.Environ(), envRunMain+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(delay, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	fired := !timer.Stop()
	if !fired && err != nil {
		t.Fatalf("canonid %s failed before the kill: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return fired
}

// checkCrashed checks what must hold after any crash: the invariants, and
// an outbox numbered 1..head with no gap and no duplicate.
func checkCrashed(t *testing.T, st store.Store, after string) {
	t.Helper()
	err := st.View(t.Context(), func(tx store.Tx) error {
		snap, err := tx.Snapshot(t.Context())
		if err != nil {
			return err
		}
		return identity.CheckInvariants(snap)
	})
	if err != nil {
		t.Fatalf("after %s: %v", after, err)
	}
	head, err := st.Outbox().Head(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var seq int64
	for {
		evs, err := st.Outbox().After(t.Context(), seq, 5000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Seq != seq+1 {
				t.Fatalf("after %s: outbox event %d follows %d", after, e.Seq, seq)
			}
			seq = e.Seq
		}
		if len(evs) < 5000 {
			break
		}
	}
	if seq != head {
		t.Fatalf("after %s: outbox ends at %d, head says %d", after, seq, head)
	}
}

// TestCrashes kills canonid (SIGKILL) at random points of an LDAP sync, a
// file import, merges and undos, on SQLite and PostgreSQL, and checks after
// each kill that the invariants hold and the outbox lost and duplicated
// nothing; then the interrupted work, run again, completes.
func TestCrashes(t *testing.T) {
	// Under -short (make test, with the race detector, whose binaries
	// start and run slower) fewer people, kills and merges.
	n, kills, pairs := 3000, 4, 10
	if testing.Short() {
		n, kills, pairs = 600, 3, 4
	}
	var ldif bytes.Buffer
	if err := slapdtest.GenerateSupann(&ldif, n, 7); err != nil {
		t.Fatal(err)
	}
	s := slapdtest.Start(t, slapdtest.Options{LDIF: &ldif})
	csv := filepath.Join(t.TempDir(), "internes.csv")
	var rows strings.Builder
	rows.WriteString("Nom;Prénom;Date de naissance;Mail\n")
	for i := range n {
		fmt.Fprintf(&rows, "Interne%d;Camille;%02d/%02d/19%02d;interne%d@perso.example\n", i, 1+i%28, 1+i%12, 70+i%30, i)
	}
	if err := os.WriteFile(csv, []byte(rows.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("CANONID_CRASH_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	t.Logf("kill points from seed %d (CANONID_CRASH_SEED=%d replays them)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			storage := fmt.Sprintf("{driver: sqlite, dsn: %q}", filepath.Join(t.TempDir(), "canonid.db"))
			if driver == "postgres" {
				quoted, _ := json.Marshal(strings.ReplaceAll(storetest.PostgresDSN(t), "$", "$$"))
				storage = fmt.Sprintf("{driver: postgres, dsn: %s}", quoted)
			}
			cfg := filepath.Join(t.TempDir(), "canonid.yaml")
			doc := fmt.Sprintf(`log: {level: error}
storage: %s
connectors:
  - name: campus
    type: ldap
    url: %s
    bind_dn: %s
    bind_password: %s
    base_dn: %s
    filter: (objectClass=supannPerson)
    mapping: supann
%s`, storage, s.URL, s.AdminDN, s.AdminPassword, s.BaseDN, strings.TrimPrefix(arsConfig, "connectors:\n"))
			if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			mustRun(t, "migrate", "--config", cfg)
			st := openTestStore(t, cfg)

			// The sync: killed along the way, then run to the end.
			k := &killer{rng: rng, span: 2 * time.Second}
			for i := range kills {
				k.run(t, cfg, "sync", "--connector", "campus", "--full")
				checkCrashed(t, st, fmt.Sprintf("sync run %d", i))
			}
			res := syncJSON(t, cfg, "--full")
			checkCrashed(t, st, "the sync run again")
			if got := countLinks(t, st, "ldap:campus"); got != n || len(res.Errors) != 0 {
				t.Fatalf("after the sync: %d campus links, want %d", got, n)
			}
			t.Logf("sync: %d of %d runs killed", k.kills, k.runs)

			// The import: the same.
			k = &killer{rng: rng, span: 2 * time.Second}
			for i := range kills {
				k.run(t, cfg, "import", "--connector", "ars-occitanie", csv)
				checkCrashed(t, st, fmt.Sprintf("import run %d", i))
			}
			rep, r := importJSON(t, "--config", cfg, "--connector", "ars-occitanie", csv)
			checkCrashed(t, st, "the import run again")
			if r.code != 0 || rep.Rows != n || len(rep.Errors) != 0 || countLinks(t, st, "csv:ars-occitanie") != n {
				t.Fatalf("import run again: exit %d, %+v, %d links", r.code, rep.Summary, countLinks(t, st, "csv:ars-occitanie"))
			}
			t.Logf("import: %d of %d runs killed", k.kills, k.runs)

			// Merges and undos: each killed at a random point, then done
			// if the kill came before the commit.
			campus, agency := accountsOf(t, st, "ldap:campus", pairs), accountsOf(t, st, "csv:ars-occitanie", pairs)
			k = &killer{rng: rng, span: time.Second}
			for i := range campus {
				k.run(t, cfg, "accounts", "merge", campus[i], agency[i])
				checkCrashed(t, st, "a merge killed")
				rec, merged := standingMerge(t, st, agency[i])
				if !merged {
					mustRun(t, "accounts", "merge", "--config", cfg, campus[i], agency[i])
					checkCrashed(t, st, "a merge run again")
					if rec, merged = standingMerge(t, st, agency[i]); !merged {
						t.Fatalf("%s is not merged after the merge ran again", agency[i])
					}
				}
				k.run(t, cfg, "accounts", "unmerge", rec.ID)
				checkCrashed(t, st, "an undo killed")
				if _, merged := standingMerge(t, st, agency[i]); merged {
					mustRun(t, "accounts", "unmerge", "--config", cfg, rec.ID)
					checkCrashed(t, st, "an undo run again")
				}
				if _, merged := standingMerge(t, st, agency[i]); merged {
					t.Fatalf("%s is still merged after the undo ran again", agency[i])
				}
			}
			t.Logf("merges and undos: %d of %d runs killed", k.kills, k.runs)
		})
	}
}

// countLinks counts the live links of a source.
func countLinks(t *testing.T, st store.Store, source string) int {
	t.Helper()
	n := 0
	err := st.View(t.Context(), func(tx store.Tx) error {
		after := ""
		for {
			page, err := tx.Links().ListBySource(t.Context(), source, after, 1000)
			if err != nil {
				return err
			}
			for _, l := range page {
				if l.Status == identity.LinkActive {
					n++
				}
				after = l.ExternalID
			}
			if len(page) < 1000 {
				return nil
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// accountsOf returns the accounts of the first k links of a source.
func accountsOf(t *testing.T, st store.Store, source string, k int) []string {
	t.Helper()
	var out []string
	err := st.View(t.Context(), func(tx store.Tx) error {
		page, err := tx.Links().ListBySource(t.Context(), source, "", k)
		for _, l := range page {
			out = append(out, l.AccountID)
		}
		return err
	})
	if err != nil || len(out) != k {
		t.Fatalf("accounts of %s: %v, %v", source, out, err)
	}
	return out
}

// standingMerge returns the merge that retired the account, if it stands.
func standingMerge(t *testing.T, st store.Store, retired string) (identity.MergeRecord, bool) {
	t.Helper()
	var rec identity.MergeRecord
	var found bool
	err := st.View(t.Context(), func(tx store.Tx) error {
		recs, err := tx.Merges().ListByAccount(t.Context(), retired)
		for _, r := range recs {
			if r.RetiredID == retired && r.UndoneAt.IsZero() {
				rec, found = r, true
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return rec, found
}

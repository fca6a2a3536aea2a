package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/bench/internal/benchtest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// The harness tests run the whole harness on a small population and check
// that it writes, finds and counts what it says; they time nothing.

func TestHarnessSQLite(t *testing.T) {
	testHarness(t, config{Driver: "sqlite", Dir: benchtest.SQLiteDir(t)})
}

func TestHarnessPostgres(t *testing.T) {
	dsn, prefix := benchtest.Postgres(t)
	testHarness(t, config{Driver: "postgres", DSN: dsn, SchemaPrefix: prefix})
}

// testHarness runs the harness over 2000 accounts, twice through the timed
// phases, with a batch size that leaves a partial last Update, and checks
// the store's full run against the same run computed in memory from the
// generated accounts with package identity alone.
func testHarness(t *testing.T, cfg config) {
	const n, batch, runs = 2000, 300, 2
	cfg.N, cfg.Batch, cfg.Runs = n, batch, runs
	pop, err := generate(n)
	if err != nil {
		t.Fatal(err)
	}
	want := pureRun(pop)
	exp := expect(pop)

	inspected := false
	cfg.inspect = func(ctx context.Context, st store.Store, dup accounts.DuplicateReport) error {
		inspected = true
		if dup.Pairs != want.pairs {
			t.Errorf("full run scored %d pairs, want %d", dup.Pairs, want.pairs)
		}
		got := map[string]bool{}
		for _, s := range dup.Suggestions {
			got[identity.PairKey(s.A.ID, s.B.ID)] = true
		}
		for key := range want.suggested {
			if !got[key] {
				t.Errorf("pair %s not suggested", key)
			}
		}
		for key := range got {
			if !want.suggested[key] {
				t.Errorf("pair %s suggested, but its score is below the threshold", key)
			}
		}
		// The keys the store wrote at commit are those of
		// identity.BlockingKeys.
		return st.View(ctx, func(tx store.Tx) error {
			for i := range pop.records {
				c := pop.records[i].candidate()
				keys, err := tx.Duplicates().Keys(ctx, c.Account.ID)
				if err != nil {
					return err
				}
				var wantKeys []string
				for _, k := range identity.BlockingKeys(c) {
					wantKeys = append(wantKeys, k.String())
				}
				slices.Sort(wantKeys)
				if !slices.Equal(keys, wantKeys) {
					t.Errorf("account %d: stored keys %q, want %q", i, keys, wantKeys)
				}
			}
			return nil
		})
	}

	rep, err := run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !inspected {
		t.Error("the full run was not inspected")
	}

	// The generator: every planted pair shares a kept key at this size,
	// and is suggested unless its duplicate has no birth date, which
	// leaves family and given names only (0.35 + 0.2, below 0.6).
	if exp.Planted < 20 || exp.PlantedNoDate == 0 || exp.PlantedNoDate == exp.Planted {
		t.Fatalf("generator planted %d pairs, %d without a birth date: too few to test", exp.Planted, exp.PlantedNoDate)
	}
	if exp.Reachable != exp.Planted || exp.Expected != exp.Planted-exp.PlantedNoDate {
		t.Errorf("of %d planted pairs (%d without a birth date), %d share a kept key and %d are expected; want %d and %d",
			exp.Planted, exp.PlantedNoDate, exp.Reachable, exp.Expected, exp.Planted, exp.Planted-exp.PlantedNoDate)
	}
	if exp.Compared <= 0 || exp.Compared > n {
		t.Errorf("%d accounts in a kept block, want 1 to %d", exp.Compared, n)
	}
	if rep.Expect.Expected != exp.Expected || rep.Expect.Keys != exp.Keys {
		t.Errorf("report expects %d pairs and %d keys, want %d and %d", rep.Expect.Expected, rep.Expect.Keys, exp.Expected, exp.Keys)
	}

	if rep.Rows != (rowCounts{Accounts: n, Emails: n, BlockingKeys: exp.Keys, AuditEvents: n}) {
		t.Errorf("rows %+v, want %d accounts, e-mails and events and %d keys", rep.Rows, n, exp.Keys)
	}
	if wantTx := (n + batch - 1) / batch; rep.Setup.Transactions != wantTx {
		t.Errorf("setup ran %d Updates, want %d", rep.Setup.Transactions, wantTx)
	}
	if len(rep.Runs) != runs {
		t.Fatalf("report has %d runs, want %d", len(rep.Runs), runs)
	}
	for i, r := range rep.Runs {
		what := fmt.Sprintf("run %d", i+1)
		if r.ReferenceAccounts != n {
			t.Errorf("%s: reference read %d accounts, want %d", what, r.ReferenceAccounts, n)
		}
		if r.Pairs != want.pairs || r.Suggestions != len(want.suggested) || r.Dismissed != 0 {
			t.Errorf("%s: %d pairs, %d suggestions, %d dismissed; want %d, %d, 0",
				what, r.Pairs, r.Suggestions, r.Dismissed, want.pairs, len(want.suggested))
		}
		if r.Found != exp.Expected || r.Missed != 0 {
			t.Errorf("%s: found %d planted pairs, missed %d; want %d, 0", what, r.Found, r.Missed, exp.Expected)
		}
		if r.FalsePositives != r.Suggestions-r.Found || r.FalsePositives != want.strangers {
			t.Errorf("%s: %d false positives, want %d", what, r.FalsePositives, want.strangers)
		}
		if r.Reference <= 0 || r.FullRun <= 0 || r.Ratio <= 0 {
			t.Errorf("%s: reference %v, full run %v, ratio %v: want all positive", what, r.Reference, r.FullRun, r.Ratio)
		}
	}
	fp := 0
	for _, c := range rep.FalsePositives {
		fp += c
	}
	if last := rep.Runs[len(rep.Runs)-1]; fp != last.FalsePositives {
		t.Errorf("false positives by kind add up to %d, want %d", fp, last.FalsePositives)
	}
	if rep.DBVersion == "" || rep.DBSettings == "" || rep.DBBytes <= 0 {
		t.Errorf("database not described: version %q, settings %q, %d bytes", rep.DBVersion, rep.DBSettings, rep.DBBytes)
	}
}

// pureResult is the full run computed in memory.
type pureResult struct {
	pairs     int
	suggested map[string]bool // identity.PairKey of the suggested pairs
	strangers int             // suggested pairs that were not planted
}

// pureRun is what `canonid duplicates` does, minus the database: blocking
// keys for every account, the blocks, identity.Pairs, a score per pair.
func pureRun(pop *population) pureResult {
	byID := map[string]identity.Candidate{}
	blocks := map[string][]string{}
	for i := range pop.records {
		c := pop.records[i].candidate()
		byID[c.Account.ID] = c
		for _, k := range identity.BlockingKeys(c) {
			blocks[k.String()] = append(blocks[k.String()], c.Account.ID)
		}
	}
	planted := map[string]bool{}
	for _, p := range pop.planted {
		planted[identity.PairKey(pop.records[p[0]].account.ID, pop.records[p[1]].account.ID)] = true
	}
	pairs := identity.Pairs(blocks, identity.DefaultMaxBlock)
	res := pureResult{pairs: len(pairs), suggested: map[string]bool{}}
	for _, p := range pairs {
		if identity.Suggest(identity.ScorePair(byID[p[0]], byID[p[1]])) {
			key := identity.PairKey(p[0], p[1])
			res.suggested[key] = true
			if !planted[key] {
				res.strangers++
			}
		}
	}
	return res
}

// TestGenerate checks that generation is deterministic, that ids, logins
// and addresses are unique, and that planted pairs are the same person
// written another way.
func TestGenerate(t *testing.T) {
	const n = 20000
	a, err := generate(n)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := generate(n)
	if len(a.records) != n {
		t.Fatalf("generated %d accounts, want %d", len(a.records), n)
	}
	if !slices.Equal(a.planted, b.planted) {
		t.Fatal("planted pairs differ between two generations")
	}
	seen := map[string]bool{}
	for i := range a.records {
		x, y := &a.records[i], &b.records[i]
		if x.account.ID != y.account.ID || x.account.Login != y.account.Login || x.account.GivenName != y.account.GivenName ||
			x.account.FamilyName != y.account.FamilyName || x.account.BirthDate != y.account.BirthDate || x.email.Address != y.email.Address {
			t.Fatalf("account %d differs between two generations", i)
		}
		for _, k := range []string{"id " + x.account.ID, "login " + x.account.Login, "address " + x.email.Address} {
			if seen[k] {
				t.Fatalf("%s generated twice", k)
			}
			seen[k] = true
		}
		if !x.email.Verified || !x.email.Primary || x.email.AccountID != x.account.ID || !identity.ValidEmail(x.email.Address) {
			t.Fatalf("account %d: address %+v, want a valid verified primary address of the account", i, x.email)
		}
		if x.email.Address != identity.NormalizeEmail(x.email.Address) {
			t.Fatalf("account %d: address %q is not normalised", i, x.email.Address)
		}
	}
	if share := float64(len(a.planted)) / n; share < 0.015 || share > 0.025 {
		t.Errorf("%.2f%% of the accounts are planted duplicates, want about 2%%", 100*share)
	}
	differ := 0
	for _, p := range a.planted {
		x, y := a.records[p[0]].account, a.records[p[1]].account
		if strings.ReplaceAll(identity.Fold(x.FamilyName), " ", "") != strings.ReplaceAll(identity.Fold(y.FamilyName), " ", "") ||
			identity.Fold(x.GivenName) != identity.Fold(y.GivenName) {
			t.Errorf("planted pair %q %q / %q %q: not the same names once folded", x.GivenName, x.FamilyName, y.GivenName, y.FamilyName)
		}
		if y.BirthDate != "" && y.BirthDate != x.BirthDate {
			t.Errorf("planted pair %s / %s: birth dates differ", x.BirthDate, y.BirthDate)
		}
		if x.GivenName != y.GivenName || x.FamilyName != y.FamilyName {
			differ++
		}
	}
	if differ < len(a.planted)/2 {
		t.Errorf("only %d of %d planted pairs are written differently", differ, len(a.planted))
	}
}

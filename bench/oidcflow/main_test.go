package main

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/bench/internal/benchtest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/oidc"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// The harness tests run the whole harness tiny, a few grants per level,
// and check that every phase counts what it sent and that the database
// holds what the phases claim to have written. They time nothing.

func TestRunSQLite(t *testing.T) {
	testRun(t, config{Driver: "sqlite", Dir: benchtest.SQLiteDir(t), Alg: "RS256"})
}

func TestRunPostgres(t *testing.T) {
	dsn, prefix := benchtest.Postgres(t)
	testRun(t, config{Driver: "postgres", DSN: dsn, SchemaPrefix: prefix, Alg: "ES256", PGWaits: true})
}

// testRun runs every phase at levels 1 and 3 with n requests each, and
// checks the report against the final counts of the database.
func testRun(t *testing.T, cfg config) {
	const n = 7 // not a multiple of 3: workers send unequal shares
	levels := []int{1, 3}
	cfg.Accounts, cfg.N, cfg.Levels, cfg.Phases = 5, n, levels, allPhases
	rep, err := run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Levels) != len(levels) {
		t.Fatalf("report has %d levels, want %d", len(rep.Levels), len(levels))
	}
	chains := 0
	for i, l := range rep.Levels {
		if l.Level != levels[i] || l.Codes != n || l.Chains != levels[i] {
			t.Errorf("level %d: level %d, %d codes, %d chains; want %d, %d, %d", i, l.Level, l.Codes, l.Chains, levels[i], n, levels[i])
		}
		chains += l.Chains
		var got []string
		for _, p := range l.Phases {
			got = append(got, p.Phase)
			if p.Level != l.Level || p.Requests != n || p.OK != n || p.Failed != 0 || p.Count != n || len(p.Errors) > 0 || p.RanOut {
				t.Errorf("level %d, %s: level %d, %d requests, %d ok, %d failed, %d latencies, errors %q, ran out %v; want %d of %d ok",
					l.Level, p.Phase, p.Level, p.Requests, p.OK, p.Failed, p.Count, p.Errors, p.RanOut, n, n)
			}
			if !strings.Contains(p.Checked, "rows and events counted") {
				t.Errorf("level %d, %s: checked %q, want the counts compared", l.Level, p.Phase, p.Checked)
			}
			if tokens := p.Phase == phaseCode || p.Phase == phaseRefresh; tokens != strings.Contains(p.Checked, "7 ID tokens verified") {
				t.Errorf("level %d, %s: checked %q", l.Level, p.Phase, p.Checked)
			}
			if p.Rate <= 0 || p.P50 <= 0 || p.P99 < p.P50 || p.Max < p.P99 || p.Load == "" {
				t.Errorf("level %d, %s: rate %v, p50 %v, p99 %v, max %v, load %q", l.Level, p.Phase, p.Rate, p.P50, p.P99, p.Max, p.Load)
			}
			// The transaction counts: exactly one recording Update for the
			// store reference, none for the HTTP one, at least the one
			// that issues the tokens for a grant.
			tx := p.Tx
			switch {
			case p.Phase == phaseRefTx && (tx.Updates != 1 || tx.Silent != 0 || tx.Retries != 0 || tx.Views != 0 || tx.InUpdatesMs <= 0),
				p.Phase == phaseRefHTTP && tx != txPerRequest{},
				(p.Phase == phaseCode || p.Phase == phaseRefresh) && (tx.Updates-tx.Silent < 1 || tx.InUpdatesMs <= 0):
				t.Errorf("level %d, %s: store transactions per request %+v", l.Level, p.Phase, tx)
			}
			if p.Phase != phaseRefTx && (p.TxRate <= 0 || p.TxP50 <= 0 || p.HTTPP50 <= 0) {
				t.Errorf("level %d, %s: ratios %v %v %v, want all set", l.Level, p.Phase, p.TxRate, p.TxP50, p.HTTPP50)
			}
		}
		if !slices.Equal(got, allPhases) {
			t.Errorf("level %d: phases %v, want %v", l.Level, got, allPhases)
		}
	}
	if rep.failed() != 0 {
		t.Errorf("%d requests failed", rep.failed())
	}

	// Every request that succeeded wrote what it should, and nothing else
	// was written: warm-up, chains and phases, all levels.
	lv := len(levels)
	codes := warmups + chains + n*lv
	refreshes := warmups + n*lv
	refs := warmups + n*lv
	c := rep.Final
	for _, w := range []struct {
		what      string
		got, want int
	}{
		{oidc.EventTokensIssued + " events", c.Events[oidc.EventTokensIssued], codes},
		{oidc.EventTokenRefreshed + " events", c.Events[oidc.EventTokenRefreshed], refreshes},
		{eventReference + " events", c.Events[eventReference], refs},
		{oidc.EventRefreshReused + " events", c.Events[oidc.EventRefreshReused], 0},
		{oidc.EventRequestCreated + " events", c.Events[oidc.EventRequestCreated], codes},
		{oidc.EventRequestCompleted + " events", c.Events[oidc.EventRequestCompleted], codes},
		{oidc.EventCodeIssued + " events", c.Events[oidc.EventCodeIssued], codes},
		{identity.EventAccountCreated + " events", c.Events[identity.EventAccountCreated], cfg.Accounts},
		{oidc.EventKeyCreated + " events (at least)", min(c.Events[oidc.EventKeyCreated], 1), 1},
		{"access tokens", c.AccessTokens, codes + refreshes + refs},
		{"refresh tokens", c.RefreshTokens, codes + refreshes},
		{"used refresh tokens", c.UsedRefresh, refreshes},
		{"revoked tokens", c.Revoked, 0},
		{"pending authorization requests", c.AuthRequests, 0},
		{"outbox rows", c.Outbox, c.totalEvents()},
		{"active accounts", c.Accounts, cfg.Accounts},
	} {
		if w.got != w.want {
			t.Errorf("%s: %d, want %d", w.what, w.got, w.want)
		}
	}
	if rep.DBVersion == "" || rep.DBSettings == "" || rep.LoadStart == "" || rep.WarmupCodeRate <= 0 {
		t.Errorf("report incomplete: database %q %q, load %q, warm-up rate %v", rep.DBVersion, rep.DBSettings, rep.LoadStart, rep.WarmupCodeRate)
	}
	var buf bytes.Buffer
	if err := printText(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "| 3 | POST /oidc/token refresh_token (rotating) | 7 | 0 |") {
		t.Errorf("the Markdown table lacks the refresh line of level 3:\n%s", buf.String())
	}
}

// TestRunDuration runs the code and refresh phases for a duration: the
// phases send what they can, and a code phase that uses every code made
// for it stops there, flagged.
func TestRunDuration(t *testing.T) {
	cfg := config{Driver: "sqlite", Dir: t.TempDir(), Alg: "ES256", Accounts: 3, Duration: 100 * time.Millisecond,
		Levels: []int{2}, Phases: []string{phaseCode, phaseRefresh}}
	rep, err := run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	l := rep.Levels[0]
	for _, p := range l.Phases {
		if p.OK == 0 || p.Failed != 0 || p.OK != p.Count {
			t.Errorf("%s: %d ok, %d failed, %d latencies", p.Phase, p.OK, p.Failed, p.Count)
		}
		if p.Phase == phaseCode && (p.OK > l.Codes || p.RanOut && p.OK != l.Codes) {
			t.Errorf("code: %d exchanged of %d codes, ran out %v", p.OK, l.Codes, p.RanOut)
		}
		if p.Phase == phaseRefresh && p.WallSeconds < cfg.Duration.Seconds() {
			t.Errorf("refresh: ran %.3f s, want at least %v", p.WallSeconds, cfg.Duration)
		}
	}
}

// TestDriveCountsFailures: a request that fails is counted, kept among the
// first errors and left out of the latencies; the others go on.
func TestDriveCountsFailures(t *testing.T) {
	fail := errors.New("boom")
	do := func(_ context.Context, w, i int, _ *bytes.Buffer) (time.Duration, *issued, error) {
		if i%4 == 3 {
			return time.Millisecond, nil, fail
		}
		return time.Duration(i+1) * time.Microsecond, &issued{sub: "x"}, nil
	}
	o := drive(context.Background(), 3, 40, 0, do, func(int) {})
	if o.requests != 40 || o.failed != 10 || len(o.lat) != 30 || len(o.tokens) != 30 {
		t.Errorf("%d requests, %d failed, %d latencies, %d tokens; want 40, 10, 30, 30", o.requests, o.failed, len(o.lat), len(o.tokens))
	}
	if len(o.errors) != maxErrors || !strings.Contains(o.errors[0], "boom") {
		t.Errorf("errors %q, want the first %d", o.errors, maxErrors)
	}
	// A job that runs out stops its worker without counting a failure.
	o = drive(context.Background(), 2, 0, time.Minute, func(_ context.Context, _, i int, _ *bytes.Buffer) (time.Duration, *issued, error) {
		if i >= 5 {
			return 0, nil, errRanOut
		}
		return time.Microsecond, nil, nil
	}, func(int) {})
	if o.requests != 5 || o.failed != 0 || !o.ranOut {
		t.Errorf("running out: %d requests, %d failed, ran out %v; want 5, 0, true", o.requests, o.failed, o.ranOut)
	}
}

func TestCheckTokens(t *testing.T) {
	ok := `{"access_token":"a","token_type":"Bearer","refresh_token":"r","id_token":"i","expires_in":899}`
	for _, c := range []struct {
		status int
		body   string
		want   string // part of the error; "" for none
	}{
		{200, ok, ""},
		{200, `{"access_token":"a","token_type":"Bearer","refresh_token":"r","expires_in":899}`, "without an id_token"},
		{200, `{"access_token":"a","token_type":"Bearer","id_token":"i","expires_in":899}`, "without a refresh_token"},
		{200, `{"token_type":"Bearer","refresh_token":"r","id_token":"i","expires_in":899}`, "access token"},
		{200, `{"access_token":"a","token_type":"Bearer","refresh_token":"r","id_token":"i"}`, "expires_in"},
		{200, `not json`, "status 200 but"},
		{400, `{"error":"invalid_grant","error_description":"the code is invalid, used or expired"}`, "invalid_grant: the code"},
		{500, `oops`, "status 500: oops"},
	} {
		_, err := checkTokens(c.status, []byte(c.body))
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%d %s: %v, want %q", c.status, c.body, err, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	if l, err := parseLevels("1, 8,32"); err != nil || !slices.Equal(l, []int{1, 8, 32}) {
		t.Errorf("levels: %v, %v", l, err)
	}
	if _, err := parseLevels("1,x,1"); err == nil || !strings.Contains(err.Error(), `"x"`) || !strings.Contains(err.Error(), "twice") {
		t.Errorf("bad levels: %v", err)
	}
	if p, err := parsePhases("refresh,code"); err != nil || !slices.Equal(p, []string{phaseCode, phaseRefresh}) {
		t.Errorf("phases: %v, %v, want them in run order", p, err)
	}
	if _, err := parsePhases("code,implicit"); err == nil || !strings.Contains(err.Error(), "implicit") {
		t.Errorf("bad phases: %v", err)
	}
	err := config{Driver: "mysql", Levels: []int{0}, Alg: "HS256"}.validate()
	for _, want := range []string{"driver", "accounts", "n:", "levels", "phases", "alg"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validate: %v, want a problem with %s", err, want)
		}
	}
}

// TestCountingStore: an Update that records an event is counted as such,
// one that records none as silent, and Views apart.
func TestCountingStore(t *testing.T) {
	ctx := context.Background()
	st := &countingStore{Store: storetest.OpenSQLite(t)}
	if err := st.Update(ctx, func(tx store.Tx) error {
		return tx.Record(ctx, store.Event{Type: eventReference, Actor: benchActor})
	}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := st.Update(ctx, func(tx store.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.View(ctx, func(tx store.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	got := per(txCounts{}, st.snapshot(), 1)
	if got.Updates != 3 || got.Silent != 2 || got.Retries != 0 || got.Views != 1 || got.InUpdatesMs <= got.InSilentMs || got.InSilentMs <= 0 {
		t.Errorf("counted %+v; want 3 Updates, 2 silent, 1 View", got)
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		state, typ, event, query string
		want                     string
	}{
		{"active", "Lock", "transactionid", "UPDATE outbox_head SET seq = seq + $1 WH", "waiting for the outbox_head row"},
		{"active", "LWLock", "LockManager", "UPDATE outbox_head SET seq = seq + $1 WH", "waiting for the outbox_head row"},
		{"active", "Lock", "tuple", "UPDATE oidc_tokens SET used_at = $1 WHER", "waiting for another lock"},
		{"active", "IO", "WALSync", "commit", "waiting for the WAL flush"},
		{"idle in transaction", "Client", "ClientRead", "INSERT INTO audit_events (at, type, acto", "in a transaction, waiting for canonid"},
		{"idle in transaction", "", "", "begin", "in a transaction, waiting for canonid"},
		{"active", "", "", "SELECT id, status, login", "running"},
		{"active", "IO", "DataFileRead", "SELECT id, status, login", "other"},
	} {
		if got, _ := classify(c.state, c.typ, c.event, c.query); got != c.want {
			t.Errorf("%s %s:%s %q: %q, want %q", c.state, c.typ, c.event, c.query, got, c.want)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/canonid/canonid/connectors/ldap/slapdtest"
	"github.com/canonid/canonid/ingest"
)

// TestSlapdStoppedMidSync: the campus directory stops in the middle of a
// full sync. The sync fails naming the server, what it committed is whole
// (invariants, gapless outbox), and once the directory is back the next
// sync completes with every person.
func TestSlapdStoppedMidSync(t *testing.T) {
	// Pages of 100 (page_size below) and a stop after the first batch:
	// the connector cannot have read the whole directory ahead.
	const n = 2000
	var ldif bytes.Buffer
	if err := slapdtest.GenerateSupann(&ldif, n, 11); err != nil {
		t.Fatal(err)
	}
	s := slapdtest.Start(t, slapdtest.Options{LDIF: &ldif})
	cfgPath := campusConfig(t, s, "", "    mapping: supann\n    page_size: 100\n")
	cfg, err := loadConfig(cfgPath, true)
	if err != nil {
		t.Fatal(err)
	}
	st := openTestStore(t, cfgPath)
	conn, in, err := buildConnector(cfg.Connectors[0], st, cfg.Policies.Precedence, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := conn.(interface{ Close() error }); ok {
		t.Cleanup(func() { c.Close() })
	}
	var once sync.Once
	stopped := false
	_, err = in.Sync(context.Background(), conn, ingest.SyncOptions{Full: true, Owner: "test", BatchSize: 100,
		Progress: func(done int) {
			if done >= 100 { // the first batch is committed
				once.Do(func() { s.Stop(t); stopped = true })
			}
		}})
	if !stopped || err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("sync with the directory stopped mid-way: stopped %v, err %v (want an error naming the server)", stopped, err)
	}
	partial := countLinks(t, st, "ldap:campus")
	if partial < 100 || partial >= n {
		t.Fatalf("%d campus links after the interrupted sync, want the batches committed before the stop", partial)
	}
	checkCrashed(t, st, "the directory stopped mid-sync")

	s.Restart(t)
	res, err := in.Sync(context.Background(), conn, ingest.SyncOptions{Full: true, Owner: "test"})
	if err != nil || len(res.Errors) != 0 {
		t.Fatalf("sync after the restart: %v, %d errors", err, len(res.Errors))
	}
	checkCrashed(t, st, "the sync after the restart")
	if got := countLinks(t, st, "ldap:campus"); got != n {
		t.Fatalf("%d campus links after the restart, want %d", got, n)
	}
	t.Logf("%d people linked before the stop, %d after the restart (%d created then)", partial, n, res.Created)
}

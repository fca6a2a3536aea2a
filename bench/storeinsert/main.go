// Command storeinsert measures how fast canonid's store inserts accounts, each
// with two links (ldap:campus and csv:ars-occitanie) and two e-mail addresses
// (one verified primary, one pending), on SQLite or PostgreSQL.
//
// It times three phases in one process, each on a fresh database migrated by
// canonid's own Migrate, each with its own accounts generated before the
// clock starts:
//
//	a  canonid, one Update per account (the account, its links and e-mails
//	   and an account.created event): how the connectors write today
//	b  canonid, -batch accounts per Update: how a bulk import would write
//	c  the reference: the same data rows (no audit, no outbox) inserted with
//	   prepared statements on a plain database/sql connection of the same
//	   driver and settings, -batch accounts per transaction
//
// Phase c is the floor, what the database itself takes for those rows; every
// phase is also reported as a ratio to it (reference accounts/s divided by
// the phase's), which is what docs/benchmarks.md records, since absolute
// rates on shared machines are noise.
//
// Usage:
//
//	go run ./bench/storeinsert -driver sqlite -n 100000
//	go run ./bench/storeinsert -driver postgres -dsn "$CANONID_TEST_POSTGRES" -n 100000
//
// SQLite databases are files in a temporary directory removed at the end;
// PostgreSQL phases each get a schema canonid_bench_<random>, dropped at the
// end. After each phase the row counts are checked (untimed) against what the
// phase claims to have written.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"

	"github.com/canonid/canonid/bench/internal/benchfmt"
)

func main() {
	if err := mainErr(); err != nil {
		fmt.Fprintln(os.Stderr, "storeinsert:", err)
		os.Exit(1)
	}
}

func mainErr() error {
	var (
		cfg        config
		phases     string
		asJSON     bool
		cpuProfile string
		verbose    bool
	)
	flag.StringVar(&cfg.Driver, "driver", "sqlite", "database: sqlite or postgres")
	flag.StringVar(&cfg.DSN, "dsn", "", "postgres: DSN of the server (a fresh schema is created in its database for each phase)")
	flag.StringVar(&cfg.Dir, "dir", "", "sqlite: directory for the temporary database files (default: the system's temporary directory)")
	flag.IntVar(&cfg.N, "n", 100000, "accounts per phase")
	flag.IntVar(&cfg.Batch, "batch", 1000, "accounts per transaction in phases b and c")
	flag.StringVar(&phases, "phases", "a,b,c", "phases to run, in order: a (one Update per account), b (batched Updates), c (reference)")
	flag.BoolVar(&asJSON, "json", false, "print one JSON object instead of text")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.BoolVar(&verbose, "v", false, "log the store's messages and a progress line every 10s to stderr")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	var phasesErr error
	cfg.Phases, phasesErr = parsePhases(phases)
	if err := errors.Join(phasesErr, cfg.validate()); err != nil {
		return err
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Progress, cfg.ProgressEvery = os.Stderr, 30*time.Second
	if verbose {
		cfg.ProgressEvery = 10 * time.Second
	}

	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	// On ^C the phase in progress stops and its database is still dropped.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := run(ctx, cfg)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printText(os.Stdout, rep)
}

// printText prints the report for a terminal, then as Markdown for
// docs/benchmarks.md.
func printText(w io.Writer, r *report) error {
	fmt.Fprintf(w, "machine: %s\n", r.MachineLine())
	fmt.Fprintf(w, "each account: 1 account + 2 links + 2 e-mails; canonid phases add 1 audit + 1 outbox row\n\n")
	width := len("phase")
	for _, p := range r.Phases {
		width = max(width, len(p.Title))
	}
	fmt.Fprintf(w, "%-*s  %9s  %10s  %10s  %8s  %11s\n", width, "phase", "accounts", "elapsed", "accounts/s", "rows/s", "× reference")
	for _, p := range r.Phases {
		fmt.Fprintf(w, "%-*s  %9d  %10s  %10.0f  %8.0f  %11s\n", width, p.Title, p.Accounts, benchfmt.Seconds(p.Elapsed), p.AccountsPerSec, p.RowsPerSec, benchfmt.Ratio(p.Ratio))
	}
	fmt.Fprintf(w, "\nMarkdown (docs/benchmarks.md):\n\n")
	fmt.Fprintf(w, "Machine: %s.\n\n", r.MachineLine())
	fmt.Fprintln(w, "| Phase | n | Elapsed | Accounts/s | Rows/s | × reference |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|")
	for _, p := range r.Phases {
		fmt.Fprintf(w, "| %s | %d | %s | %.0f | %.0f | %s |\n", p.Title, p.Accounts, benchfmt.Seconds(p.Elapsed), p.AccountsPerSec, p.RowsPerSec, benchfmt.Ratio(p.Ratio))
	}
	return nil
}

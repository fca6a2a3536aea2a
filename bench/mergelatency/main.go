// Command mergelatency measures how long canonid takes to merge two accounts
// that each have 10 links, and to undo that merge, on SQLite or PostgreSQL.
//
// Setup, untimed: 2n accounts through the store, -batch accounts per Update,
// each with 10 links (ldap:campus, ldap:iut-nord, csv:ars-occitanie,
// csv:cpts-sud, csv:alumni, scim:hr, scim:library, oidc:campus-sso,
// oidc:renater, oidc:france-connect), two e-mail addresses (one verified
// primary, one pending), one org membership and an account.created event.
// Accounts 2i and 2i+1 are the same person seen by two sources, so each merge
// also brings over a birth date, a phone number and an INE.
//
// Then three phases, timed call by call, one after the other, from one
// goroutine, on the same store:
//
//	merge      accounts.Service.Merge of account 2i+1 into 2i, i = 0..n-1:
//	           one transaction that moves 10 links, 2 e-mails and a membership
//	undo       accounts.Service.Undo of each of those merges
//	reference  one store Update per survivor that reads the account, sets its
//	           phone, writes it and records account.updated: the floor of one
//	           write transaction on this database
//
// Each phase is reported as count, p50, p90, p99, max and mean (exact
// nearest-rank order statistics, nothing interpolated), and as the ratio of
// its p50 and p99 to the reference's, which is what docs/benchmarks.md
// records, since absolute latencies on shared machines are noise.
//
// Usage:
//
//	go run ./bench/mergelatency -driver sqlite -n 2000
//	go run ./bench/mergelatency -driver postgres -dsn "$CANONID_TEST_POSTGRES" -n 2000
//
// The SQLite database is a file in a temporary directory removed at the end;
// on PostgreSQL the run gets a schema canonid_bench_<random>, dropped at the
// end. After the phases the run checks, untimed, that the invariants hold,
// that all n merges were undone and that every account is back as setup
// wrote it; it fails otherwise.
package main

import (
	"context"
	"encoding/json"
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
		fmt.Fprintln(os.Stderr, "mergelatency:", err)
		os.Exit(1)
	}
}

func mainErr() error {
	var (
		cfg        config
		asJSON     bool
		cpuProfile string
		verbose    bool
	)
	flag.StringVar(&cfg.Driver, "driver", "sqlite", "database: sqlite or postgres")
	flag.StringVar(&cfg.DSN, "dsn", "", "postgres: DSN of the server (the run creates a schema of its own in its database)")
	flag.StringVar(&cfg.Dir, "dir", "", "sqlite: directory for the temporary database file (default: the system's temporary directory)")
	flag.IntVar(&cfg.N, "n", 2000, "merges (and undos, and reference transactions) to time; setup writes 2n accounts")
	flag.IntVar(&cfg.Batch, "batch", 500, "accounts per Update during setup")
	flag.BoolVar(&asJSON, "json", false, "print one JSON object instead of text")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.BoolVar(&verbose, "v", false, "log the store's messages and a progress line every 10s to stderr")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	if err := cfg.validate(); err != nil {
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

	// On ^C the phase in progress stops and the database is still dropped.
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
	ew := benchfmt.NewWriter(w)
	ms, ratio := benchfmt.Ms, benchfmt.Ratio
	fmt.Fprintf(ew, "machine: %s\n", r.Machine)
	fmt.Fprintf(ew, "setup: %d accounts, each with %d links, %d e-mails, %d membership, in %.1f s (untimed by the phases)\n",
		r.Accounts, r.LinksPerAccount, r.EmailsPerAccount, r.MembershipsPerAccount, r.SetupSeconds)
	fmt.Fprintf(ew, "verified after the run: invariants hold, %d merges all undone, every account as setup wrote it\n\n", r.N)
	width := len("phase")
	for _, p := range r.Phases {
		width = max(width, len(p.Title))
	}
	fmt.Fprintf(ew, "%-*s  %6s  %9s  %9s  %9s  %9s  %9s  %9s  %9s\n", width, "phase", "n",
		"p50", "p90", "p99", "max", "mean", "p50÷ref", "p99÷ref")
	for _, p := range r.Phases {
		fmt.Fprintf(ew, "%-*s  %6d  %9s  %9s  %9s  %9s  %9s  %9s  %9s\n", width, p.Title, p.Count,
			ms(p.P50), ms(p.P90), ms(p.P99), ms(p.Max), ms(p.Mean), ratio(p.RatioP50), ratio(p.RatioP99))
	}
	fmt.Fprintf(ew, "\nMarkdown (docs/benchmarks.md):\n\n")
	fmt.Fprintf(ew, "Machine: %s.\n\n", r.Machine)
	fmt.Fprintln(ew, "| Phase | n | p50 | p90 | p99 | max | mean | × reference, p50 / p99 |")
	fmt.Fprintln(ew, "|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, p := range r.Phases {
		fmt.Fprintf(ew, "| %s | %d | %s | %s | %s | %s | %s | %s / %s |\n", p.Title, p.Count,
			ms(p.P50), ms(p.P90), ms(p.P99), ms(p.Max), ms(p.Mean), ratio(p.RatioP50), ratio(p.RatioP99))
	}
	return ew.Err()
}

// Command dupdetect measures canonid's full duplicate detection run, the one
// `canonid duplicates` does, over n generated accounts on SQLite or
// PostgreSQL, and how much of what it should find it finds.
//
// Setup, timed but not part of the goal: n accounts are generated
// deterministically (French given and family names drawn so that common
// names collide, birth dates spread over 60 years, one verified address each
// built from the names and a number, and about 2% near-duplicates: the same
// person again, written another way, with a personal address and sometimes
// no birth date), then written through the store, -batch accounts per
// Update, each with Accounts().Create, Emails().Add and an account.created
// event, so that the store computes the blocking keys at commit as it does
// in production. The generator also computes, from the generated accounts
// alone, which planted pairs the run must suggest: those that share a
// blocking key held by at most identity.DefaultMaxBlock accounts and that
// identity.ScorePair scores at or above the threshold.
//
// Then two phases, timed one after the other on the same database, -runs
// times:
//
//	reference  every account read through the store's read path: one View,
//	           Accounts().List by cursor, 10,000 accounts a page; what merely
//	           reading every account costs
//	full run   accounts.Service.Duplicates(ctx, ""), as `canonid duplicates`
//
// The full run is reported with its pairs scored, its suggestions, the
// planted pairs it found (recall), the suggestions that are not planted
// pairs (false positives: every other generated account is another person),
// its peak resident set (VmHWM, reset before the phase), and as the ratio of
// its elapsed time to the reference's, which is what docs/benchmarks.md
// records, since absolute times on shared machines are noise.
//
// Usage:
//
//	go run ./bench/dupdetect -n 1000000
//	go run ./bench/dupdetect -driver postgres -dsn "$CANONID_TEST_POSTGRES" -n 1000000
//
// The SQLite database is a file in a temporary directory removed at the end;
// on PostgreSQL the run gets a schema canonid_bench_<random>, dropped at the
// end. After setup the row counts are checked, untimed, against the
// generator: one account, one address and one event per account, and as
// many blocking_keys rows as identity.BlockingKeys gives.
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
	"time"

	"github.com/canonid/canonid/bench/internal/benchfmt"
)

func main() {
	if err := mainErr(); err != nil {
		fmt.Fprintln(os.Stderr, "dupdetect:", err)
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
	flag.StringVar(&cfg.DSN, "dsn", "", "postgres: DSN of the server (a fresh schema is created in its database)")
	flag.StringVar(&cfg.Dir, "dir", "", "sqlite: directory for the temporary database file (default: the system's temporary directory)")
	flag.IntVar(&cfg.N, "n", 1000000, "accounts")
	flag.IntVar(&cfg.Batch, "batch", 1000, "accounts per Update during setup")
	flag.IntVar(&cfg.Runs, "runs", 1, "how many times to run the reference and the full run, one after the other")
	flag.BoolVar(&asJSON, "json", false, "print one JSON object instead of text")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the first full run to this file")
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
	cfg.Progress, cfg.ProgressEvery = os.Stderr, 60*time.Second
	if verbose {
		cfg.ProgressEvery = 10 * time.Second
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		cfg.CPUProfile = f
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
	e := r.Expect
	fmt.Fprintf(w, "machine: %s\n", r.MachineLine())
	fmt.Fprintf(w, "accounts: %d (%d planted near-duplicate pairs, %d of them without a birth date on the duplicate)\n",
		r.N, e.Planted, e.PlantedNoDate)
	fmt.Fprintf(w, "setup: generate %s, write through the store %s (%d Updates of %d accounts); peak RSS %s\n",
		benchfmt.Seconds(r.Setup.Generate), benchfmt.Seconds(r.Setup.Write), r.Setup.Transactions, r.Batch, formatKB(r.Setup.PeakRSSKB))
	fmt.Fprintf(w, "rows: %d accounts, %d e-mails, %d audit events, %d blocking_keys; database %.0f MB\n",
		r.Rows.Accounts, r.Rows.Emails, r.Rows.AuditEvents, r.Rows.BlockingKeys, float64(r.DBBytes)/1e6)
	fmt.Fprintf(w, "keys: %d distinct, %d blocks of 2 to 50 accounts (largest %d) holding %d accounts, %d keys held by more than 50 (skipped)\n",
		e.DistinctKeys, e.Blocks, e.LargestKept, e.Compared, e.Oversized)
	fmt.Fprintf(w, "planted pairs: %d sharing a kept key, %d scored at or above the threshold, %d both (expected)\n\n",
		e.Reachable, e.Suggestible, e.Expected)

	fmt.Fprintf(w, "%-4s  %10s  %10s  %7s  %8s  %8s  %9s  %11s  %9s  %6s  %6s  %8s  %8s  %11s  %9s  %s\n",
		"run", "reference", "full run", "ratio", "CPU ref", "CPU full", "pairs", "suggestions", "found", "missed", "false+",
		"RSS ref", "RSS full", "others' CPU", "steal", "load after")
	for i, x := range r.Runs {
		fmt.Fprintf(w, "%-4d  %10s  %10s  %7s  %8.1f  %8.1f  %9d  %11d  %9d  %6d  %6d  %8s  %8s  %11.1f  %9.1f  %s\n",
			i+1, benchfmt.Seconds(x.Reference), benchfmt.Seconds(x.FullRun), benchfmt.Ratio(x.Ratio), x.ReferenceCPU, x.FullRunCPU,
			x.Pairs, x.Suggestions, x.Found, x.Missed, x.FalsePositives, formatKB(x.ReferencePeakKB), formatKB(x.FullRunPeakKB),
			x.OthersCPU, x.StealCPU, x.LoadAvg)
	}
	fmt.Fprintf(w, "(CPU: seconds of CPU this process used in the phase; others' CPU and steal: seconds used by other processes and other VMs during the full run)\n")
	if len(r.FalsePositives) > 0 {
		fmt.Fprintf(w, "\nfalse positives of the last run, by matching fields:\n")
		for _, k := range sortedKinds(r.FalsePositives) {
			fmt.Fprintf(w, "  %6d  %s\n", r.FalsePositives[k], k)
		}
	}
	fmt.Fprintf(w, "peak RSS of the process, setup included: %s\n", formatKB(r.PeakRSSKB))

	last := r.Runs[len(r.Runs)-1]
	fmt.Fprintf(w, "\nMarkdown (docs/benchmarks.md), last run:\n\n")
	fmt.Fprintf(w, "Machine: %s.\n\n", r.MachineLine())
	fmt.Fprintln(w, "| Phase | Elapsed | × reference | Peak RSS |")
	fmt.Fprintln(w, "|---|--:|--:|--:|")
	fmt.Fprintf(w, "| Setup: generate %d accounts | %s | – | – |\n", r.N, benchfmt.Seconds(r.Setup.Generate))
	fmt.Fprintf(w, "| Setup: write through the store, %d per Update | %s | – | %s |\n", r.Batch, benchfmt.Seconds(r.Setup.Write), formatKB(r.Setup.PeakRSSKB))
	fmt.Fprintf(w, "| Reference: read every account (List, %d a page) | %s | 1.00× | %s |\n", referencePage, benchfmt.Seconds(last.Reference), formatKB(last.ReferencePeakKB))
	fmt.Fprintf(w, "| Full run: `Service.Duplicates(ctx, \"\")` | %s | %s | %s |\n\n", benchfmt.Seconds(last.FullRun), benchfmt.Ratio(last.Ratio), formatKB(last.FullRunPeakKB))
	fmt.Fprintln(w, "| Pairs scored | Suggestions | Planted | Expected | Found (recall) | Missed | False positives | blocking_keys rows |")
	fmt.Fprintln(w, "|--:|--:|--:|--:|--:|--:|--:|--:|")
	fmt.Fprintf(w, "| %d | %d | %d | %d | %d (%.1f%%) | %d | %d | %d |\n", last.Pairs, last.Suggestions, e.Planted, e.Expected,
		last.Found, 100*float64(last.Found)/float64(max(e.Planted, 1)), last.Missed, last.FalsePositives, r.Rows.BlockingKeys)
	return nil
}

// formatKB writes a resident set size in MB, or "–" when unknown.
func formatKB(kb int64) string {
	if kb <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MB", float64(kb)/1024)
}

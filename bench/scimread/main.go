// Command scimread measures how fast canonid's SCIM server answers the reads
// of provisioning clients over a large directory, on SQLite or PostgreSQL:
// a lookup by userName, and listing the users page after page.
//
// Setup, untimed: a fresh database migrated by canonid's own Migrate,
// filled with -n accounts by multi-row INSERTs on a connection of its own
// (not through the store, so that a million accounts take minutes). Each
// account is active, with a login, given, family and display names, an
// employee number, one verified primary e-mail address and a link
// scim:bench/<externalId>, as if the provisioning client "bench" had
// created it. Then canonid's HTTP server (server.New, with scim.New
// mounted on its SCIM group, as cmd/canonid wires them) listens on a
// loopback port, API tokens of role scim are created through the store,
// the row counts are checked, and one user is fetched, looked up and
// listed through SCIM and checked field by field. On PostgreSQL the tables
// are vacuumed and analysed, as autovacuum would after a bulk load. The
// SCIM settings are the defaults but for the rate limit, raised out of the
// way (the default, 50 requests a second per token, would be all that is
// measured); the server's access log is off, -v or not.
//
// Then, timed, in one process, each SCIM phase followed by its reference
// (the same read as one raw SQL statement, prepared once, on a plain
// database/sql connection with the store's reader settings):
//
//	lookup          -lookups GET /scim/v2/Users?filter=userName eq "<login>",
//	                one after the other; -misses percent of them for logins
//	                no account has
//	lookup-ref      SELECT … FROM accounts WHERE login = ? AND status <> 'merged'
//	walk            -pages GET /scim/v2/Users?startIndex=1+100k&count=100,
//	                k = 0, 1, 2…, one after the other: a client reading the
//	                whole directory
//	walk-ref        the same pages by keyset: … WHERE id > ? ORDER BY id LIMIT 100
//	concurrent      -clients clients (tokens of their own) doing walk at once
//	concurrent-ref  as many connections doing walk-ref at once
//	random          -random pages at random startIndexes, one after the other
//	random-ref      the same pages by ORDER BY id LIMIT 100 OFFSET ?
//
// Every answer is checked, untimed: each lookup finds its user (or none),
// and every page read through SCIM holds the same users in the same order
// as the reference's page. Latencies are exact nearest-rank percentiles;
// each SCIM phase is also given as a ratio to its reference (p50, p99, and
// the reference's rate divided by the phase's), which is what
// docs/benchmarks.md records, since absolute figures on shared machines
// are noise.
//
// Usage:
//
//	go run ./bench/scimread -driver sqlite -n 1000000
//	go run ./bench/scimread -driver postgres -dsn "$CANONID_TEST_POSTGRES" -n 1000000
//
// The SQLite database is a file in a temporary directory removed at the end;
// on PostgreSQL the run gets a schema canonid_bench_<random>, dropped at the
// end.
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
	"strings"
	"time"

	"github.com/canonid/canonid/bench/internal/benchfmt"
)

func main() {
	if err := mainErr(); err != nil {
		fmt.Fprintln(os.Stderr, "scimread:", err)
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
	flag.StringVar(&cfg.DSN, "dsn", "", "postgres: DSN of the server (the run creates a schema of its own in its database)")
	flag.StringVar(&cfg.Dir, "dir", "", "sqlite: directory for the temporary database file (default: the system's temporary directory)")
	flag.IntVar(&cfg.N, "n", 1000000, "accounts")
	flag.IntVar(&cfg.Lookups, "lookups", 2000, "timed lookups by userName (and as many reference lookups)")
	flag.IntVar(&cfg.MissPercent, "misses", 10, "percentage of lookups for a login no account has")
	flag.IntVar(&cfg.Pages, "pages", 2000, "pages each walk reads (pages × count must not exceed n)")
	flag.IntVar(&cfg.PageSize, "count", 100, "users per page")
	flag.IntVar(&cfg.Clients, "clients", 2, "clients walking at once in the concurrent phase")
	flag.IntVar(&cfg.RandomPages, "random", 10, "pages read at random startIndexes (each costs seconds at a million accounts)")
	flag.IntVar(&cfg.Batch, "batch", 10000, "accounts per setup transaction")
	flag.StringVar(&phases, "phases", strings.Join(allGroups, ","), "phases to time, each with its reference: lookup, walk, concurrent, random")
	flag.BoolVar(&asJSON, "json", false, "print one JSON object instead of text")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the timed phases (not the setup) to this file")
	flag.BoolVar(&verbose, "v", false, "log the store's messages and a progress line every 10s to stderr (the server's access log stays off)")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	var groupsErr error
	cfg.Groups, groupsErr = parseGroups(phases)
	if err := errors.Join(groupsErr, cfg.validate()); err != nil {
		return err
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.ServerLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
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
	ew := benchfmt.NewWriter(w)
	ms, ratio := benchfmt.Ms, benchfmt.Ratio
	fmt.Fprintf(ew, "machine: %s\n", r.Machine)
	fmt.Fprintf(ew, "setup: %d accounts (each with 1 verified primary e-mail and 1 link %s/<externalId>) in %.1f s, then %.1f s settling; database %.0f MB\n",
		r.Rows.Accounts, benchSource, r.SetupSeconds, r.SettleSeconds, float64(r.DBBytes)/1e6)
	fmt.Fprintf(ew, "checked: row counts, one user fetched, looked up and listed through SCIM; every lookup answer; every SCIM page equal to the reference's\n")
	fmt.Fprintf(ew, "cpu/op: this process's CPU time (client and server; on SQLite the database too) per lookup or page; self/all: CPU seconds of this process / of the whole machine during the phase\n\n")
	width := len("phase")
	for _, p := range r.Phases {
		width = max(width, len(p.Phase))
	}
	fmt.Fprintf(ew, "%-*s  %6s  %9s  %9s  %9s  %9s  %9s  %9s  %8s  %8s  %8s  %9s  %14s  %s\n", width, "phase", "n",
		"p50", "p90", "p99", "p99.9", "max", "rate/s", "p50÷ref", "p99÷ref", "ref÷rate", "cpu/op", "cpu s self/all", "load (1 5 15 min)")
	for _, p := range r.Phases {
		fmt.Fprintf(ew, "%-*s  %6d  %9s  %9s  %9s  %9s  %9s  %9s  %8s  %8s  %8s  %9s  %14s  %s\n", width, p.Phase, p.Count,
			ms(p.P50), ms(p.P90), ms(p.P99), ms(p.P999), ms(p.Max), rate(p.Rate), ratio(p.RatioP50), ratio(p.RatioP99), ratio(p.RatioRate),
			fmt.Sprintf("%.2f ms", p.CPUPerOp), fmt.Sprintf("%.1f/%.1f", p.ProcessCPU, p.MachineCPU), p.Load)
	}
	for _, p := range r.Phases {
		if p.Hits+p.Misses > 0 {
			fmt.Fprintf(ew, "%s: %d found, %d unknown logins\n", p.Phase, p.Hits, p.Misses)
		}
		if len(p.FirstPages) > 0 && p.Reference != "" && p.Phase != "random" {
			firsts := make([]string, len(p.FirstPages))
			for i, d := range p.FirstPages {
				firsts[i] = ms(d)
			}
			fmt.Fprintf(ew, "%s: first page of each walk (counts the list): %s\n", p.Phase, strings.Join(firsts, ", "))
		}
	}
	fmt.Fprintf(ew, "\nMarkdown (docs/benchmarks.md):\n\n")
	fmt.Fprintf(ew, "Machine: %s.\n\n", r.Machine)
	fmt.Fprintln(ew, "| Phase | n | p50 | p99 | p99.9 | max | per second | × reference, p50 / p99 / rate | load |")
	fmt.Fprintln(ew, "|---|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, p := range r.Phases {
		rel := "1.00×"
		if p.Reference != "" {
			rel = ratio(p.RatioP50) + " / " + ratio(p.RatioP99) + " / " + ratio(p.RatioRate)
		}
		fmt.Fprintf(ew, "| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", p.Title, p.Count,
			ms(p.P50), ms(p.P99), ms(p.P999), ms(p.Max), rate(p.Rate), rel, p.Load)
	}
	return ew.Err()
}

// rate formats a rate per second: whole numbers, but two significant
// digits below 10.
func rate(r float64) string {
	if r < 10 {
		return fmt.Sprintf("%.2g", r)
	}
	return fmt.Sprintf("%.0f", r)
}

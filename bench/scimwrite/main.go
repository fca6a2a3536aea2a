// Command scimwrite measures how fast canonid's SCIM server takes the
// writes of provisioning clients, as Entra ID sends them, on SQLite or
// PostgreSQL: creating users, changing their attributes, and deactivating
// them.
//
// Setup, untimed: a fresh, empty database migrated by canonid's own
// Migrate; canonid's HTTP server (server.New, with scim.New mounted on its
// SCIM group, as cmd/canonid wires them) on a loopback port; -clients API
// tokens of role scim (entra-1, entra-2…) created through the store, each
// client configured as docs/scim.md configures Entra ID (correlation on the
// address and, automatically, the employee number; addresses verified; new
// accounts active; a gone user suspended; no org). The rate limit is raised
// out of the way (the default, 50 requests a second per token, would be all
// that is measured); the server's access log is off.
//
// Then three phases, each with its reference, each run by -clients workers
// at once (a SCIM client with a token of its own, or a goroutine writing to
// the store as that client), each worker sending one request after the
// other over keep-alive connections. A phase and its reference take turns
// of -slice (2 s; the SCIM phase first), so that both see the same load
// from the rest of a shared machine; each stops once it has run for
// -duration in all, or -n operations (all workers together) were started,
// whichever comes first:
//
//	create          POST /scim/v2/Users with Entra ID's body: userName (a
//	                UPN), externalId (a UUID), name, displayName, a work
//	                address primary, active, the enterprise employeeNumber;
//	                201 expected. Every person is new: correlation finds
//	                nothing and creates an account.
//	create-ref      one store.Update: Accounts().Create, Emails().Add
//	                (verified, primary), Links().Create, Record
//	                (account.created)
//	patch           PATCH /scim/v2/Users/{id}, Entra ID's Replace operations
//	                on displayName, name.familyName and
//	                emails[type eq "work"].value; each client patches the
//	                users it created in turn, each time with new values;
//	                200 or 204 expected
//	patch-ref       one store.Update: Accounts().Get and Update, the old
//	                address deleted and the new one added, Links().Update
//	                (the snapshot), Record(account.updated)
//	deactivate      PATCH /scim/v2/Users/{id} Replace active "False"
//	                (Entra ID's soft delete): each client deactivates its
//	                users once each, so the phase also ends when they are
//	                all done
//	deactivate-ref  one store.Update: Links().Update (gone), Accounts().Get
//	                and Update (suspended), Tokens().Revoke, Record
//	                (link.gone, account.suspended)
//
// The references write the rows and events the SCIM request writes, as
// directly as the store allows, on the same store, with the same number of
// goroutines: what is left between a phase and its reference is HTTP,
// authentication, the SCIM library, canonid's planning reads (correlation,
// the current state, the rendering of the answer) and any extra write. Each
// pair starts after a checkpoint (CHECKPOINT on PostgreSQL,
// wal_checkpoint(TRUNCATE) on SQLite), each turn after a garbage
// collection.
//
// Every answer is checked, untimed (status, and the User it holds: the
// values written, active or not); the first failure stops the run. After
// each phase the events it recorded are read from the outbox and counted by
// type: a reference must record exactly its own, a SCIM phase at least the
// same (anything more is shown). After the phases, untimed, a store
// snapshot is checked: every user created is there with its last values
// (names, address verified and primary, employee number), its link active
// or gone, its account active or suspended; nothing else is; and
// identity.CheckInvariants holds.
//
// Latencies are exact nearest-rank percentiles, measured by the client
// (request sent to body read) or around store.Update; each SCIM phase is
// also given as ratios to its reference (p50, p99, and the reference's rate
// divided by the phase's), which is what docs/benchmarks.md records, since
// absolute figures on shared machines are noise. The load average is
// printed at each phase's first turn, with the CPU time of the process and
// of the machine during its turns.
//
// Usage:
//
//	go run ./bench/scimwrite -driver sqlite
//	go run ./bench/scimwrite -driver sqlite -clients 4
//	go run ./bench/scimwrite -driver postgres -dsn "$CANONID_TEST_POSTGRES" -clients 4
//	go run ./bench/scimwrite -driver sqlite -duration 0 -n 2000 -slice 0
//
// The SQLite database is a file in a temporary directory removed at the end;
// on PostgreSQL the run gets a schema canonid_bench_<random>, dropped at the
// end.
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
		fmt.Fprintln(os.Stderr, "scimwrite:", err)
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
	flag.IntVar(&cfg.Clients, "clients", 1, "clients writing at once, each with a token of its own (and as many goroutines for each reference)")
	flag.DurationVar(&cfg.Duration, "duration", 20*time.Second, "time bound of each phase (0: none)")
	flag.IntVar(&cfg.N, "n", 0, "operation bound of each phase, all clients together (0: none)")
	flag.DurationVar(&cfg.Slice, "slice", 2*time.Second, "a phase and its reference take turns of this long (0: each runs in one go)")
	flag.BoolVar(&asJSON, "json", false, "print one JSON object instead of text")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the timed phases to this file")
	flag.BoolVar(&verbose, "v", false, "log the store's messages and a progress line every 5s to stderr (the server's access log stays off)")
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
		cfg.Progress, cfg.ProgressEvery = os.Stderr, 5*time.Second
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.ServerLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
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
	bound := fmt.Sprintf("%v", r.Duration)
	if r.N > 0 {
		bound += fmt.Sprintf(" or %d operations", r.N)
	}
	if r.Slice > 0 {
		bound += fmt.Sprintf(", in turns of %v with its reference", r.Slice)
	}
	fmt.Fprintf(ew, "machine: %s\n", r.Machine)
	fmt.Fprintf(ew, "clients: %d at once; each phase bounded by %s; load average %s at the start, %s at the end\n", r.Clients, bound, r.LoadStart, r.LoadEnd)
	fmt.Fprintf(ew, "checked: every answer; the events of each phase; afterwards, through a store snapshot, the %d accounts written (values, address, link, status) and the invariants\n", r.Accounts)
	fmt.Fprintf(ew, "cpu/op: this process's CPU time (clients and server; on SQLite the database too) per operation; self/all: CPU seconds of this process / of the whole machine during the phase\n\n")
	width := len("phase")
	for _, p := range r.Phases {
		width = max(width, len(p.Phase))
	}
	fmt.Fprintf(ew, "%-*s  %6s  %9s  %9s  %9s  %9s  %7s  %8s  %8s  %8s  %9s  %12s  %s\n", width, "phase", "n",
		"p50", "p90", "p99", "max", "rate/s", "p50÷ref", "p99÷ref", "ref÷rate", "cpu/op", "cpu self/all", "load (1 5 15 min)")
	for _, p := range r.Phases {
		fmt.Fprintf(ew, "%-*s  %6d  %9s  %9s  %9s  %9s  %7.0f  %8s  %8s  %8s  %9s  %12s  %s\n", width, p.Phase, p.Count,
			ms(p.P50), ms(p.P90), ms(p.P99), ms(p.Max), p.Rate, ratio(p.RatioP50), ratio(p.RatioP99), ratio(p.RatioRate),
			fmt.Sprintf("%.2f ms", p.CPUPerOp), fmt.Sprintf("%.1f/%.1f", p.ProcessCPU, p.MachineCPU), p.Load)
	}
	for _, p := range r.Phases {
		extra := ""
		if p.Exhausted {
			extra = "; the clients ran out of users before the bound"
		}
		if len(p.Statuses) > 0 {
			extra += fmt.Sprintf("; statuses %v", p.Statuses)
		}
		fmt.Fprintf(ew, "%s: events per operation: %s%s\n", p.Phase, p.eventSummary(), extra)
	}
	fmt.Fprintf(ew, "\nMarkdown (docs/benchmarks.md):\n\n")
	fmt.Fprintf(ew, "Machine: %s.\n\n", r.Machine)
	fmt.Fprintln(ew, "| Phase | clients | n | p50 | p90 | p99 | max | per second | × reference, p50 / p99 / rate | events/op | load |")
	fmt.Fprintln(ew, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, p := range r.Phases {
		rel := "1.00×"
		if p.Reference != "" {
			rel = ratio(p.RatioP50) + " / " + ratio(p.RatioP99) + " / " + ratio(p.RatioRate)
		}
		fmt.Fprintf(ew, "| %s | %d | %d | %s | %s | %s | %s | %.0f | %s | %.2f | %s |\n", p.Title, r.Clients, p.Count,
			ms(p.P50), ms(p.P90), ms(p.P99), ms(p.Max), p.Rate, rel, p.eventsPerOp(), p.Load)
	}
	return ew.Err()
}

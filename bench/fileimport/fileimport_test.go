package fileimport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/canonid/canonid/bench/internal/benchenv"
	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/connectors/csvimport"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/imports"
	"github.com/canonid/canonid/ingest"
	"github.com/canonid/canonid/mapping"
	"github.com/canonid/canonid/store/sqlite"
)

var ctx = context.Background()

type phase struct {
	name string
	d    time.Duration
	cpu  time.Duration // user and system CPU time of the process
	rep  imports.Report
}

type report struct {
	n      int
	setup  time.Duration
	read   time.Duration
	phases []phase
}

func compile(tb testing.TB, doc string, v any) {
	tb.Helper()
	if err := yaml.Unmarshal([]byte(doc), v); err != nil {
		tb.Fatal(err)
	}
}

func run(tb testing.TB, n int) report {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "canonid.db"), log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	rep := report{n: n}

	// n campus accounts, applied as a directory sync would, each with a
	// recovery address.
	start := time.Now()
	var spec mapping.Spec
	compile(tb, `supann`, &spec)
	campus, err := mapping.Compile(spec)
	if err != nil {
		tb.Fatal(err)
	}
	in := ingest.New(st, ingest.Source{Name: "ldap:campus", Mapping: campus}, identity.DefaultPrecedence(), log)
	r := in.Start(ingest.Options{})
	for i := range n {
		e := connectors.Entry{ExternalID: fmt.Sprintf("uuid-%08d", i), Name: fmt.Sprintf("uid=u%d", i), Attributes: map[string][]string{
			"uid": {fmt.Sprintf("u%d", i)}, "mail": {fmt.Sprintf("u%d@univ-test.fr", i)}, "givenName": {"Élodie"},
			"sn": {fmt.Sprintf("Interne%d", i)}, "supannMailPerso": {fmt.Sprintf("interne%d@perso.example", i)},
			"supannOIDCDateDeNaissance": {fmt.Sprintf("1998-%02d-%02d", i%12+1, i%28+1)}}}
		if err := r.Add(ctx, e); err != nil {
			tb.Fatal(err)
		}
	}
	if err := r.Flush(ctx); err != nil {
		tb.Fatal(err)
	}
	rep.setup = time.Since(start)

	// The agency's file: one row per account, by its personal address.
	var buf bytes.Buffer
	buf.WriteString("Nom;Prénom;Date de naissance;Mail;Spécialité;Faculté\n")
	for i := range n {
		fmt.Fprintf(&buf, "Interne%d;Élodie;%02d/%02d/1998;interne%d@perso.example;Médecine générale;Montpellier\n", i, i%28+1, i%12+1, i)
	}
	file := buf.Bytes()

	cfg := csvimport.Config{KeyColumns: []string{"Mail"}}
	start = time.Now()
	f, err := csvimport.Open(bytes.NewReader(file), int64(len(file)), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	rows := 0
	if err := f.Rows(ctx, func(csvimport.Row) error { rows++; return nil }); err != nil || rows != n {
		tb.Fatalf("reading: %d rows, %v", rows, err)
	}
	rep.read = time.Since(start)

	var fileSpec mapping.Spec
	compile(tb, `{family_name: Nom, given_name: Prénom, birth_date: "Date de naissance", email: {from: [Mail], required: true}}`, &fileSpec)
	m, err := mapping.Compile(fileSpec)
	if err != nil {
		tb.Fatal(err)
	}
	var icfg ingest.Config
	compile(tb, `{correlate: [email, {key: recovery_email, auto: true}, ine, name_birth_date], email_verified: false}`, &icfg)
	svc := imports.New(st, []imports.Connector{{Name: "ars", Mapping: m, Ingest: icfg, File: cfg}}, identity.DefaultPrecedence(), log)
	importFile := func(name string, dry bool, check func(imports.Report) bool) {
		start, cpu0 := time.Now(), benchenv.ReadCPUTime()
		var got imports.Report
		var err error
		// Each phase carries a profiler label: go tool pprof -tagfocus phase=import.
		pprof.Do(ctx, pprof.Labels("phase", strings.Fields(name)[0]), func(ctx context.Context) {
			got, err = svc.Run(ctx, imports.Request{Connector: "ars", FileName: "interns.csv", File: bytes.NewReader(file), Size: int64(len(file)),
				DryRun: dry, Actor: "bench", Owner: "bench"})
		})
		d, cpu := time.Since(start), time.Duration(benchenv.ReadCPUTime().Sub(cpu0).Process*float64(time.Second))
		if err != nil || !check(got) {
			tb.Fatalf("%s: %+v, %v", name, got.Summary, err)
		}
		rep.phases = append(rep.phases, phase{name, d, cpu, got})
	}
	importFile("dry run (read, map, correlate)", true, func(r imports.Report) bool { return r.Linked == n })
	importFile("import (link every row)", false, func(r imports.Report) bool { return r.Linked == n && len(r.Errors) == 0 })
	importFile("same file again (all unchanged)", false, func(r imports.Report) bool { return r.Unchanged == n })
	return rep
}

func (r report) markdown() string {
	var b strings.Builder
	ref := float64(r.n) / r.read.Seconds()
	fmt.Fprintf(&b, "%s, GOMAXPROCS=%d, %d rows against %d accounts (accounts created in %s)\n\n", runtime.Version(), runtime.GOMAXPROCS(0), r.n, r.n, r.setup.Round(time.Millisecond))
	fmt.Fprintf(&b, "| phase | time | CPU | rows/s | × reading the file | summary |\n|---|--:|--:|--:|--:|---|\n")
	fmt.Fprintf(&b, "| reading the file alone (csvimport) | %s | | %.0f | 1.00 | |\n", r.read.Round(time.Millisecond), ref)
	for _, p := range r.phases {
		rate := float64(r.n) / p.d.Seconds()
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %.3f | %d linked, %d created, %d unchanged |\n", p.name, p.d.Round(time.Millisecond),
			p.cpu.Round(10*time.Millisecond), rate, rate/ref, p.rep.Linked, p.rep.Created, p.rep.Unchanged)
	}
	return b.String()
}

func TestHarness(t *testing.T) {
	rep := run(t, 300)
	if len(rep.phases) != 3 || !strings.Contains(rep.markdown(), "same file again") {
		t.Fatalf("report:\n%s", rep.markdown())
	}
}

func BenchmarkImport(b *testing.B) {
	n := 100_000
	if v := os.Getenv("CANONID_BENCH_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		rep := run(b, n)
		b.ReportMetric(0, "ns/op")
		for i, name := range []string{"dry-run", "import", "again"} {
			b.ReportMetric(float64(n)/rep.phases[i].d.Seconds(), name+"-rows/s")
		}
		fmt.Println(rep.markdown())
	}
}

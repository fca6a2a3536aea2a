package ldapsync

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/canonid/canonid/connectors/ldap/slapdtest"
	"github.com/canonid/canonid/ingest"
)

// phase is one canonid sync run as measured from outside.
type phase struct {
	name   string
	wall   time.Duration // the whole process: start, config, store, sync
	rssKB  int64         // the process's peak resident set
	result ingest.SyncResult
}

// report is what a harness run measured.
type report struct {
	n, changes int
	load       time.Duration
	ldapsearch time.Duration // best of three
	phases     []phase
}

// run generates n people, loads them into a fresh slapd, measures the
// ldapsearch reference and the sync phases, and returns the figures.
func run(tb testing.TB, n, changes int) report {
	// The reference needs ldapsearch (Debian ldap-utils), as the tests
	// need slapd: skipped without it, failed under the integration rule.
	if _, err := exec.LookPath("ldapsearch"); err != nil {
		if os.Getenv(slapdtest.EnvRequireIntegration) == "1" {
			tb.Fatalf("ldapsearch is needed as the reference: %v (%s=1)", err, slapdtest.EnvRequireIntegration)
		}
		tb.Skipf("ldapsearch is needed as the reference: %v; skipping (set %s=1 to fail instead)", err, slapdtest.EnvRequireIntegration)
	}
	dir := tb.TempDir()
	ldif := filepath.Join(dir, "people.ldif")
	f, err := os.Create(ldif)
	if err != nil {
		tb.Fatal(err)
	}
	// A real directory's entries were last changed long ago: backdate
	// them, so that an incremental sync reads only what the run changes
	// (slapadd would stamp them all with the load time).
	if err := slapdtest.GenerateSupann(&backdate{w: f}, n, 42); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	rep := report{n: n, changes: changes}
	f, err = os.Open(ldif)
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	s := slapdtest.Start(tb, slapdtest.Options{LDIF: f})
	rep.load = time.Since(start)
	f.Close()

	bin := filepath.Join(dir, "canonid")
	build := exec.Command("go", "build", "-o", bin, "github.com/canonid/canonid/cmd/canonid")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "canonid.yaml")
	doc := fmt.Sprintf(`log: {level: warn}
storage: {driver: sqlite, dsn: %s}
connectors:
  - name: campus
    type: ldap
    url: %s
    bind_dn: %s
    bind_password: ${BENCH_LDAP_PASSWORD}
    base_dn: %s
    filter: (objectClass=supannPerson)
    mapping: supann
`, filepath.Join(dir, "canonid.db"), s.URL, s.AdminDN, s.BaseDN)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		tb.Fatal(err)
	}
	rep.ldapsearch = ldapsearch(tb, s)

	sync := func(name string, args ...string) phase {
		cmd := exec.Command(bin, append([]string{"sync", "--config", cfg, "--connector", "campus", "--json"}, args...)...)
		cmd.Env = append(os.Environ(), "BENCH_LDAP_PASSWORD="+s.AdminPassword)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			tb.Fatalf("canonid sync %v: %v\n%s", args, err, stderr.String())
		}
		p := phase{name: name, wall: time.Since(start)}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			p.rssKB = ru.Maxrss
		}
		if err := json.Unmarshal(stdout.Bytes(), &p.result); err != nil {
			tb.Fatalf("sync --json output %q: %v", stdout.String(), err)
		}
		rep.phases = append(rep.phases, p)
		return p
	}
	if p := sync("first full sync (creates every account)", "--full"); p.result.Created != n || len(p.result.Errors) != 0 {
		tb.Fatalf("first sync: %+v", p.result.Summary)
	}
	// Three full syncs of the unchanged directory, as ldapsearch runs
	// three times: the machine is shared, the best shows the code.
	for i := range 3 {
		if p := sync(fmt.Sprintf("full sync, nothing changed (%d of 3)", i+1), "--full"); p.result.Unchanged != n {
			tb.Fatalf("full sync of an unchanged directory: %+v", p.result.Summary)
		}
	}
	dns := someDNs(tb, ldif, changes)
	for i, dn := range dns {
		s.Replace(tb, dn, "telephoneNumber", fmt.Sprintf("+33 4 67 00 %02d %02d", i/100, i%100))
	}
	if p := sync(fmt.Sprintf("incremental sync (%d entries changed)", changes)); p.result.Updated != changes || p.result.Full {
		tb.Fatalf("incremental sync: %+v", p.result.Summary)
	}
	return rep
}

// backdate copies LDIF to w, giving each entry a modifyTimestamp and a
// createTimestamp of 2025-09-01.
type backdate struct {
	w       io.Writer
	partial []byte // an unfinished line, held until its end arrives
}

func (b *backdate) Write(p []byte) (int, error) {
	var out bytes.Buffer
	data := append(b.partial, p...)
	for {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			break
		}
		line := data[:nl+1]
		out.Write(line)
		if bytes.HasPrefix(line, []byte("dn: ")) {
			out.WriteString("modifyTimestamp: 20250901000000Z\ncreateTimestamp: 20250901000000Z\n")
		}
		data = data[nl+1:]
	}
	b.partial = append([]byte(nil), data...)
	if _, err := b.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// ldapsearch times `ldapsearch -E pr=1000/noprompt` dumping every person
// with all its attributes to /dev/null: the best of three runs.
func ldapsearch(tb testing.TB, s *slapdtest.Server) time.Duration {
	path, err := exec.LookPath("ldapsearch")
	if err != nil {
		tb.Fatalf("ldapsearch is needed as the reference: %v", err)
	}
	var best time.Duration
	for range 3 {
		cmd := exec.Command(path, "-x", "-LLL", "-H", s.URL, "-D", s.AdminDN, "-w", s.AdminPassword,
			"-b", s.BaseDN, "-E", "pr=1000/noprompt", "(objectClass=supannPerson)")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			tb.Fatalf("ldapsearch: %v: %s", err, stderr.String())
		}
		if d := time.Since(start); best == 0 || d < best {
			best = d
		}
	}
	return best
}

// someDNs returns k DNs spread over the generated LDIF.
func someDNs(tb testing.TB, ldif string, k int) []string {
	f, err := os.Open(ldif)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var all []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if dn, ok := strings.CutPrefix(sc.Text(), "dn: uid="); ok {
			all = append(all, "uid="+dn)
		}
	}
	if len(all) < k {
		tb.Fatalf("%d people, want at least %d", len(all), k)
	}
	out := make([]string, 0, k)
	for i := range k {
		out = append(out, all[i*len(all)/k])
	}
	return out
}

// markdown renders the report as the table docs/benchmarks.md shows.
func (r report) markdown() string {
	var b strings.Builder
	ref := float64(r.n) / r.ldapsearch.Seconds()
	fmt.Fprintf(&b, "%s, GOMAXPROCS=%d, %d entries (slapadd + start %s)\n\n", runtime.Version(), runtime.GOMAXPROCS(0), r.n, r.load.Round(time.Millisecond))
	fmt.Fprintf(&b, "| run | wall | sync | entries/s | × ldapsearch | peak RSS | summary |\n|---|--:|--:|--:|--:|--:|---|\n")
	fmt.Fprintf(&b, "| ldapsearch -E pr=1000/noprompt (best of 3) | %s | | %.0f | 1.00 | | |\n", r.ldapsearch.Round(time.Millisecond), ref)
	for _, p := range r.phases {
		rate := float64(p.result.Entries) / p.wall.Seconds()
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %.2f | %.0f MB | %d created, %d updated, %d unchanged |\n",
			p.name, p.wall.Round(time.Millisecond), p.result.Duration.Round(time.Millisecond), rate, rate/ref,
			float64(p.rssKB)/1024, p.result.Created, p.result.Updated, p.result.Unchanged)
	}
	return b.String()
}

// TestHarness runs the phases on a small directory and checks their counts
// (run asserts them); it measures nothing.
func TestHarness(t *testing.T) {
	rep := run(t, 300, 10)
	if len(rep.phases) != 5 {
		t.Fatalf("%d phases", len(rep.phases))
	}
	for _, p := range rep.phases {
		if p.rssKB <= 0 || p.wall <= 0 {
			t.Fatalf("phase %q not measured: %+v", p.name, p)
		}
	}
	if md := rep.markdown(); !strings.Contains(md, "× ldapsearch") {
		t.Fatalf("report:\n%s", md)
	}
}

// BenchmarkSync runs the phases on CANONID_BENCH_ENTRIES people (default
// 100,000) and prints the table.
func BenchmarkSync(b *testing.B) {
	n := 100_000
	if v := os.Getenv("CANONID_BENCH_ENTRIES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		rep := run(b, n, 100)
		b.ReportMetric(0, "ns/op")
		full := rep.phases[0]
		ref := float64(n) / rep.ldapsearch.Seconds()
		best := rep.phases[1]
		var rss int64
		for _, p := range rep.phases {
			rss = max(rss, p.rssKB)
			if p.result.Unchanged == n && p.wall < best.wall {
				best = p
			}
		}
		b.ReportMetric(float64(n)/full.wall.Seconds()/ref, "x-ldapsearch-first")
		b.ReportMetric(float64(n)/best.wall.Seconds()/ref, "x-ldapsearch-resync-best")
		b.ReportMetric(float64(rss)/1024, "peak-RSS-MB")
		b.ReportMetric(rep.phases[len(rep.phases)-1].wall.Seconds(), "incremental-s")
		fmt.Println(rep.markdown())
	}
}

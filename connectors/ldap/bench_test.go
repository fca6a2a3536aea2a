package ldap_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/connectors/ldap"
	"github.com/canonid/canonid/connectors/ldap/slapdtest"
)

// benchEntries is the size of the benchmark directory; override with
// CANONID_BENCH_ENTRIES.
const benchEntries = 100_000

// BenchmarkList lists a generated SupAnn directory with 1, 2 and 4
// partitions, reading the mapping's attributes or every user attribute,
// and reports the entries per second beside those of
// `ldapsearch -E pr=1000/noprompt` dumping the same entries and
// attributes to /dev/null, measured in the same run. It also reports the
// process's peak resident memory (VmHWM) so far.
//
// The "slapadd-uuids" variant loads the same people without their random
// entryUUIDs, so that slapadd stamps time-based ones sharing a prefix:
// the partitions are then unbalanced.
//
//	go test -run '^$' -bench BenchmarkList -benchtime 3x ./connectors/ldap/
func BenchmarkList(b *testing.B) {
	n := benchEntries
	if v := os.Getenv("CANONID_BENCH_ENTRIES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("CANONID_BENCH_ENTRIES: %v", err)
		}
	}
	ldif := filepath.Join(b.TempDir(), "people.ldif")
	f, err := os.Create(ldif)
	if err != nil {
		b.Fatal(err)
	}
	if err := slapdtest.GenerateSupann(f, n, 42); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}

	load := func(b *testing.B, dropUUIDs bool) *slapdtest.Server {
		f, err := os.Open(ldif)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		var r io.Reader = f
		if dropUUIDs {
			pr, pw := io.Pipe()
			go func() { pw.CloseWithError(dropLines(pw, f, "entryUUID:")) }()
			r = pr
		}
		start := time.Now()
		s := slapdtest.Start(b, slapdtest.Options{LDIF: r})
		b.Logf("slapadd + start of %d entries: %v", n, time.Since(start).Round(time.Millisecond))
		return s
	}

	random := load(b, false)
	attrSets := []struct {
		name  string
		attrs []string
	}{{"mapping", mappingAttrs}, {"all", nil}}
	for _, as := range attrSets {
		baseline := ldapsearchRate(b, random, as.attrs, n)
		for _, parts := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("attrs=%s/partitions=%d", as.name, parts), func(b *testing.B) {
				benchList(b, random, as.attrs, parts, n, baseline)
			})
		}
	}

	clustered := load(b, true)
	baseline := ldapsearchRate(b, clustered, mappingAttrs, n)
	b.Run("attrs=mapping/partitions=2/slapadd-uuids", func(b *testing.B) {
		benchList(b, clustered, mappingAttrs, 2, n, baseline)
	})
}

func benchList(b *testing.B, s *slapdtest.Server, attrs []string, partitions, n int, baseline float64) {
	c, err := ldap.New("bench", ldap.Config{
		URL:          s.URL,
		BindDN:       s.AdminDN,
		BindPassword: s.AdminPassword,
		BaseDN:       s.BaseDN,
		Filter:       "(objectClass=supannPerson)",
		Partitions:   partitions,
	}, attrs, nil)
	if err != nil {
		b.Fatal(err)
	}
	count := 0
	for b.Loop() {
		count = 0
		if err := c.List(b.Context(), func(e connectors.Entry) error {
			count++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	if count != n {
		b.Fatalf("List() gave %d entries, want %d", count, n)
	}
	rate := float64(n) * float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/list")
	b.ReportMetric(rate, "entries/s")
	if baseline > 0 {
		b.ReportMetric(baseline, "ldapsearch-entries/s")
		b.ReportMetric(rate/baseline, "x-ldapsearch")
	}
	if hwm := peakRSS(); hwm > 0 {
		b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MB")
	}
}

// ldapsearchRate is the best of three runs of ldapsearch dumping the n
// entries with attrs (all user attributes when empty) to /dev/null, in
// entries per second; 0 without ldapsearch.
func ldapsearchRate(b *testing.B, s *slapdtest.Server, attrs []string, n int) float64 {
	path, err := exec.LookPath("ldapsearch")
	if err != nil {
		b.Logf("no ldapsearch to compare with: %v", err)
		return 0
	}
	args := []string{"-x", "-LLL", "-H", s.URL, "-D", s.AdminDN, "-w", s.AdminPassword,
		"-b", s.BaseDN, "-E", "pr=1000/noprompt", "(objectClass=supannPerson)"}
	if len(attrs) > 0 {
		args = append(append(args, attrs...), "entryUUID", "modifyTimestamp", "entryCSN")
	}
	best := time.Duration(0)
	for range 3 {
		cmd := exec.Command(path, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("ldapsearch: %v: %s", err, stderr.String())
		}
		if d := time.Since(start); best == 0 || d < best {
			best = d
		}
	}
	b.Logf("ldapsearch of %d entries (attrs %d): best of 3 %v", n, len(attrs), best.Round(time.Millisecond))
	return float64(n) / best.Seconds()
}

// dropLines copies r to w without the lines starting with prefix.
func dropLines(w io.Writer, r io.Reader, prefix string) error {
	sc := bufio.NewScanner(r)
	bw := bufio.NewWriter(w)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			continue
		}
		bw.Write(sc.Bytes())
		bw.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return bw.Flush()
}

// peakRSS is the process's peak resident set (VmHWM) in bytes, 0 where
// /proc is missing.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

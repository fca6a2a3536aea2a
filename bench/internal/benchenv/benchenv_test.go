package benchenv

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestCPUTime(t *testing.T) {
	a := ReadCPUTime()
	x := 0
	for i := range 10_000_000 { // some CPU time for the process
		x += i
	}
	d := ReadCPUTime().Sub(a)
	if d.Process < 0 || d.Machine < 0 || d.Steal < 0 || x == 0 {
		t.Errorf("CPU time used: %+v, want nothing negative", d)
	}
	if got := (CPUTime{3, 5, 1}).Sub(CPUTime{1, 2, 1}); got != (CPUTime{2, 3, 0}) {
		t.Errorf("Sub: %+v", got)
	}
}

// TestEnv opens a SQLite database the way the harnesses do, writer and
// readers, and describes it.
func TestEnv(t *testing.T) {
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "env.db")
	w, err := OpenRaw(ctx, "sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := OpenReader(ctx, "sqlite", dsn, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.ExecContext(ctx, "CREATE TABLE t (x)"); err == nil {
		t.Error("a reader connection wrote")
	}
	e := NewEnv("sqlite")
	if e.DBVersion, e.DBSettings, err = Describe(ctx, r, "sqlite"); err != nil {
		t.Fatal(err)
	}
	line := e.MachineLine()
	for _, want := range []string{e.GoVersion, "GOMAXPROCS=", "SQLite ", "via modernc.org/sqlite", "journal_mode=wal synchronous=FULL"} {
		if !strings.Contains(line, want) {
			t.Errorf("machine line %q lacks %q", line, want)
		}
	}
}

// Package fileimport measures agency file imports: a file of n rows
// correlated against n existing accounts on SQLite, each row carrying the
// personal address one account holds as its recovery address (so each row
// is linked by the recovery_email rule). It reports the rows per second of
// a dry run (reading, mapping, correlation), of the import (linking, with
// every write and event), and of the same file again (all unchanged),
// beside the rate of reading the file alone in the same run.
//
//	CANONID_BENCH_ROWS=100000 go test -count=1 -run '^$' -bench Import -benchtime 1x -timeout 60m ./bench/fileimport/
//
// Each phase runs under a profiler label, so that a profile of the whole run
// (-cpuprofile) can be cut to one phase: go tool pprof -tagfocus
// phase=import (or dry, same).
//
// TestHarness runs the same phases on a few hundred rows and checks every
// count.
package fileimport

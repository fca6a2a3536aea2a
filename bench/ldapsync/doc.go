// Package ldapsync measures canonid's campus directory sync against a real
// slapd holding generated SupAnn people: the rate of a full sync as a ratio
// to ldapsearch dumping the same entries in the same run, the peak memory of
// the canonid sync process, and the time of an incremental sync of 100
// changes. It runs the real CLI (canonid sync --json) built from this tree.
//
//	CANONID_BENCH_ENTRIES=100000 go test -run '^$' -bench Sync -benchtime 1x -timeout 60m ./bench/ldapsync/
//
// TestHarness runs the same phases on a few hundred entries and checks the
// counts, so that the harness cannot silently measure nothing.
package ldapsync

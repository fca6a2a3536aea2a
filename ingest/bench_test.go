package ingest

import (
	"fmt"
	"testing"

	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/store/storetest"
)

// BenchmarkApplyNew applies b.N new directory entries to SQLite, 500 per
// transaction: the store side of a first full sync.
//
//	go test -run '^$' -bench ApplyNew -benchtime 20000x ./ingest/
func BenchmarkApplyNew(b *testing.B) {
	in := benchIngester(b)
	run := in.Start(Options{})
	i := 0
	for b.Loop() {
		e := benchPerson(i)
		if err := run.Add(ctx, e); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if err := run.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if s := run.Summary(); s.Created != b.N {
		b.Fatalf("created %d of %d", s.Created, b.N)
	}
}

// BenchmarkApplyUnchanged re-applies b.N entries already applied: the store
// side of a full sync of an unchanged directory.
//
//	go test -run '^$' -bench ApplyUnchanged -benchtime 20000x ./ingest/
func BenchmarkApplyUnchanged(b *testing.B) {
	in := benchIngester(b)
	entries := make([]connectors.Entry, b.N)
	for i := range entries {
		entries[i] = benchPerson(i)
	}
	first := in.Start(Options{})
	for _, e := range entries {
		if err := first.Add(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	if err := first.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	run := in.Start(Options{})
	b.ResetTimer()
	for i := range b.N {
		if err := run.Add(ctx, entries[i]); err != nil {
			b.Fatal(err)
		}
	}
	if err := run.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if s := run.Summary(); s.Unchanged != b.N {
		b.Fatalf("unchanged %d of %d", s.Unchanged, b.N)
	}
}

func benchPerson(i int) connectors.Entry {
	return person(fmt.Sprintf("uuid-%08d", i), fmt.Sprintf("user%d", i), "Given", fmt.Sprintf("Family%d", i), fmt.Sprintf("user%d@univ-test.fr", i),
		"supannEtuId", fmt.Sprint(21000000+i), "supannCodeINE", fmt.Sprintf("%010dA", i), "supannOIDCDateDeNaissance", "2001-02-03",
		"eduPersonAffiliation", "student", "supannMailPerso", fmt.Sprintf("perso%d@gmail.example", i))
}

// benchIngester returns an ingester on a fresh SQLite database.
func benchIngester(b *testing.B) *Ingester {
	return newIngester(b, storetest.OpenSQLite(b), Config{})
}

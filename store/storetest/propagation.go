package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/canonid/canonid/store"
)

// Propagation bookkeeping: leases, progress, remote states, dead letters.

var propNow = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func lease(st store.Store, target, owner string, now time.Time, ttl time.Duration) (store.PropagationTarget, bool, error) {
	var t store.PropagationTarget
	var held bool
	err := st.Update(ctx, func(tx store.Tx) error {
		var err error
		t, held, err = tx.Propagation().Lease(ctx, target, owner, now, now.Add(ttl))
		return err
	})
	return t, held, err
}

func commitProgress(st store.Store, p store.PropagationProgress) error {
	if p.Now.IsZero() {
		p.Now = propNow.Add(time.Minute)
	}
	return st.Update(ctx, func(tx store.Tx) error { return tx.Propagation().Commit(ctx, p) })
}

func testPropagation(t *testing.T, st store.Store, _ Options) {
	// A new target starts at 0 and goes to the first owner.
	tg, held, err := lease(st, "lms", "a", propNow, time.Minute)
	fatalIf(t, err)
	if !held || tg.Cursor != 0 || tg.LeaseOwner != "a" {
		t.Fatalf("first lease: held %v, %+v", held, tg)
	}
	// Another owner waits while the lease runs, and gets it once expired.
	if _, held, err := lease(st, "lms", "b", propNow.Add(30*time.Second), time.Minute); err != nil || held {
		t.Fatalf("b took a's running lease: %v %v", held, err)
	}
	// The holder renews.
	if _, held, err := lease(st, "lms", "a", propNow.Add(30*time.Second), time.Minute); err != nil || !held {
		t.Fatalf("a could not renew: %v %v", held, err)
	}

	// Progress: cursor, remote states, dead letters, error.
	retired := propNow.Add(-time.Hour)
	p := store.PropagationProgress{Target: "lms", Owner: "a", Cursor: 42, LeaseUntil: propNow.Add(2 * time.Minute),
		Put: []store.RemoteState{{AccountID: "acc-1", RemoteID: "r1", Hash: "h1"}, {AccountID: "acc-2", RemoteID: "r2", Hash: "h2", RetiredAt: retired}},
		Dead: []store.DeadLetter{{AccountID: "acc-3", EventType: "account.active", Attempts: 5, LastError: "400 bad"},
			{Seq: 17, EventType: "account.merged", Attempts: 5, LastError: "422"}},
		LastError: "503 unavailable", DeliveredAt: propNow, DeliveredThrough: propNow.Add(-time.Second)}
	fatalIf(t, commitProgress(st, p))
	// A dispatcher that is not the holder writes nothing.
	lost := store.PropagationProgress{Target: "lms", Owner: "b", Cursor: 99, Put: []store.RemoteState{{AccountID: "acc-9", RemoteID: "r9", Hash: "h"}}}
	if err := commitProgress(st, lost); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("commit by a non-holder: %v, want ErrLeaseLost", err)
	}
	// The cursor never moves back.
	fatalIf(t, commitProgress(st, store.PropagationProgress{Target: "lms", Owner: "a", Cursor: 40}))

	targets := view(t, st, func(tx store.Tx) ([]store.PropagationTarget, error) { return tx.Propagation().Targets(ctx) })
	if len(targets) != 1 || targets[0].Cursor != 42 || targets[0].LastError != "" || !targets[0].DeliveredAt.Equal(propNow) ||
		!targets[0].DeliveredThrough.Equal(propNow.Add(-time.Second)) {
		t.Fatalf("targets %+v", targets)
	}
	remotes := view(t, st, func(tx store.Tx) (map[string]store.RemoteState, error) {
		return tx.Propagation().Remotes(ctx, "lms", []string{"acc-1", "acc-2", "acc-9"})
	})
	if len(remotes) != 2 || remotes["acc-1"].RemoteID != "r1" || remotes["acc-2"].Hash != "h2" || !remotes["acc-2"].RetiredAt.Equal(retired) ||
		!remotes["acc-1"].RetiredAt.IsZero() {
		t.Fatalf("remotes %+v", remotes)
	}
	due := view(t, st, func(tx store.Tx) ([]store.RemoteState, error) {
		return tx.Propagation().RetiredBefore(ctx, "lms", propNow, 10)
	})
	if len(due) != 1 || due[0].AccountID != "acc-2" {
		t.Fatalf("retired before now: %+v", due)
	}
	page := view(t, st, func(tx store.Tx) ([]store.RemoteState, error) {
		return tx.Propagation().RemotesAfter(ctx, "lms", "acc-1", 10)
	})
	if len(page) != 1 || page[0].AccountID != "acc-2" {
		t.Fatalf("remotes after acc-1: %+v", page)
	}

	dead := view(t, st, func(tx store.Tx) ([]store.DeadLetter, error) {
		return tx.Propagation().DeadLetters(ctx, store.DeadLetterQuery{Target: "lms"})
	})
	if len(dead) != 2 || dead[0].Seq != 17 || dead[1].AccountID != "acc-3" || dead[1].Attempts != 5 || dead[0].Retry {
		t.Fatalf("dead letters %+v", dead)
	}
	// The same account again updates its dead letter.
	fatalIf(t, commitProgress(st, store.PropagationProgress{Target: "lms", Owner: "a", Cursor: 42,
		Dead: []store.DeadLetter{{AccountID: "acc-3", EventType: "account.inactive", Attempts: 10, LastError: "400 still"}}}))
	counts := view(t, st, func(tx store.Tx) (map[string]int, error) { return tx.Propagation().CountDeadLetters(ctx) })
	if counts["lms"] != 2 {
		t.Fatalf("dead letter counts %v", counts)
	}

	// Retrying is a change: it needs an event.
	wantErr(t, st.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Propagation().RetryDeadLetters(ctx, "lms", nil)
		return err
	}), store.ErrUnrecorded)
	var marked int
	fatalIf(t, st.Update(ctx, func(tx store.Tx) error {
		var err error
		if marked, err = tx.Propagation().RetryDeadLetters(ctx, "lms", []int64{dead[0].ID}); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: "propagation.retry_requested", Actor: "test"})
	}))
	retry := view(t, st, func(tx store.Tx) ([]store.DeadLetter, error) {
		return tx.Propagation().DeadLetters(ctx, store.DeadLetterQuery{Target: "lms", Retry: true})
	})
	if marked != 1 || len(retry) != 1 || retry[0].Seq != 17 {
		t.Fatalf("marked %d, retry %+v", marked, retry)
	}
	// Delivered since: cleared; forgotten remote states go.
	fatalIf(t, commitProgress(st, store.PropagationProgress{Target: "lms", Owner: "a", Cursor: 50,
		ClearAccounts: []string{"acc-3"}, ClearSeqs: []int64{17}, Forget: []string{"acc-2"}}))
	dead = view(t, st, func(tx store.Tx) ([]store.DeadLetter, error) {
		return tx.Propagation().DeadLetters(ctx, store.DeadLetterQuery{})
	})
	remotes = view(t, st, func(tx store.Tx) (map[string]store.RemoteState, error) {
		return tx.Propagation().Remotes(ctx, "lms", []string{"acc-1", "acc-2"})
	})
	if len(dead) != 0 || len(remotes) != 1 {
		t.Fatalf("after clearing: dead %+v, remotes %+v", dead, remotes)
	}

	// Released, the lease goes to the next owner at once, with the cursor.
	fatalIf(t, st.Update(ctx, func(tx store.Tx) error { return tx.Propagation().Release(ctx, "lms", "a") }))
	tg, held, err = lease(st, "lms", "b", propNow.Add(31*time.Second), time.Minute)
	if err != nil || !held || tg.Cursor != 50 {
		t.Fatalf("after release: held %v, %+v, %v", held, tg, err)
	}
	// And an expired lease goes too.
	if _, held, err := lease(st, "lms", "c", propNow.Add(10*time.Minute), time.Minute); err != nil || !held {
		t.Fatalf("expired lease: held %v, %v", held, err)
	}
}

// Package propagation measures what issue 9 asks of the propagation to
// SCIM targets: the latency from a merge to the downstream platform
// showing it (p50 and p99; goal: p99 under 1 s) and the outbox events
// delivered per second. The whole run is in one process: canonid's store
// (SQLite, or PostgreSQL with CANONID_BENCH_DRIVER=postgres and
// CANONID_TEST_POSTGRES), the dispatcher (package propagate, Poll 1 s,
// default lease) with one scim/push target, and an in-process SCIM
// service provider (scim/scimtest) on a loopback port.
//
// Setup, untimed: n pairs of accounts written through the store, 500 per
// transaction, each with its account.created event. A pair is one person
// seen twice: a university account (login, verified university address)
// and an agency account (another login, a verified personal address).
//
// Then, timed:
//
//   - create: the dispatcher starts after setup and delivers the 2n
//     account.created events; the clock stops when the target's cursor
//     (propagate.Status) reaches the outbox head, and the provider must
//     then hold the 2n Users.
//   - updates: 5 rounds, each giving every account a new given name
//     (2n × 5 account.updated events, 500 accounts per transaction), while
//     the dispatcher runs. The rate is over the time from the start of the
//     first update transaction to the cursor reaching the head; the time
//     the writer took and what the dispatcher needed after the last commit
//     are shown too. A target receives fewer writes than events: the
//     dispatcher writes each account's current state once per batch of 500
//     events, and skips it when that state is the one it last wrote (a
//     later change already delivered by an earlier batch).
//   - raw writes, the reference: the current state of each of the 2n
//     accounts written by push.Target.Write, one after the other, to the
//     same provider (PATCH of an existing User, as the updates are): the
//     HTTP round trips and the provider's work, without the dispatcher.
//     The dispatcher's writes per second are given as a ratio to it.
//   - merges: k merges (default 200), one at a time, of a pair's agency
//     account into its university account with accounts.Service.Merge. The
//     latency of one runs from Merge's return (committed) until the
//     provider shows the survivor active with both addresses and the
//     retired User inactive: the harness waits on the provider's Changed
//     channel and looks at both Users after each signal. The next merge
//     starts once the dispatcher has stored its cursor at the head.
//     Merge's own time is measured too, and, as the reference, the two
//     writes a merge makes downstream (retired, then survivor) sent
//     directly with push.Target.Write for k equivalent pairs on the same
//     provider: the HTTP round trips without the dispatcher or the store.
//
// Percentiles are exact nearest-rank order statistics: for k = 200, p50
// is the 100th smallest and p99 the 198th. The report also gives, per
// phase, the CPU time of the process and of the rest of the machine and
// the load average (the machines are shared), and where the dispatcher
// spent its time: the harness hands it the store and the target through
// a wrapper that times its Update, View, outbox reads and Write calls,
// and lists them for the slowest merges. The wrapper's Update also tells
// the harness when to read the cursor again, so that nothing sleeps.
//
//	go test -count=1 -run '^$' -bench Propagation -benchtime 1x -timeout 30m ./bench/propagation/
//	CANONID_BENCH_DRIVER=postgres CANONID_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' \
//	  go test -count=1 -run '^$' -bench Propagation -benchtime 1x -timeout 30m ./bench/propagation/
//
// CANONID_BENCH_PAIRS (default 1000) and CANONID_BENCH_MERGES (default
// 200) size the run. TestHarness runs the same phases with 50 pairs and 10
// merges, on SQLite and, when CANONID_TEST_POSTGRES is set, PostgreSQL, and
// checks every count; it times nothing against a goal.
package propagation

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/canonid/canonid/connectors/ldap/slapdtest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/propagate"
	"github.com/canonid/canonid/propagate/webhook"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// envRunMain makes the test binary run canonid's main instead of the tests,
// so that tests can start canonid processes without building it.
const envRunMain = "CANONID_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		os.Exit(run(context.Background(), buildInfo{Version: "test", Commit: "test"}, os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// replica is a canonid serve process.
type replica struct {
	cmd   *exec.Cmd
	url   string // where it serves
	owner string // its lease owner name, host:pid
	done  chan struct{}
}

// startReplica starts canonid serve --config cfg as a process of its own,
// killed when the test ends, and waits for its serving line.
func startReplica(t *testing.T, cfg string) *replica {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--config", cfg)
	cmd.Env = append(os.Environ(), envRunMain+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &prefixWriter{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(r.done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-r.done })
	host, _ := os.Hostname()
	r.owner = host + ":" + strconv.Itoa(cmd.Process.Pid)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case line := <-lines:
		m := regexp.MustCompile(`serving on (http://127\.0\.0\.1:[0-9]+)`).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("serving line %q", line)
		}
		r.url = m[1]
	case <-r.done:
		t.Fatal("canonid serve exited before serving")
	case <-time.After(60 * time.Second):
		t.Fatal("canonid serve did not serve within 60 s")
	}
	return r
}

// prefixWriter logs a replica's stderr lines through t.
type prefixWriter struct {
	t  *testing.T
	mu sync.Mutex
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.t.Log("replica: " + l)
	}
	return len(p), nil
}

// hookReceiver counts the deliveries of each event.
type hookReceiver struct {
	mu     sync.Mutex
	counts map[int64]int
	types  map[int64]string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := webhook.Verify(replicaHookSecret, r.Header, body, time.Now(), time.Minute); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev propagate.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.counts[ev.ID]++
	h.types[ev.ID] = ev.Type
	h.mu.Unlock()
}

func (h *hookReceiver) snapshot() map[int64]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[int64]int, len(h.counts))
	for k, v := range h.counts {
		out[k] = v
	}
	return out
}

const replicaHookSecret = "replica-test-webhook-secret"

// poll checks cond every 50 ms for at most limit: the replicas are other
// processes, observed through the database and HTTP.
func poll(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(limit)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
	}
	return time.Since(start)
}

// TestTwoReplicas runs two canonid serve processes on one PostgreSQL: the
// scheduled sync runs once per period between them, each outbox event
// reaches the webhook once, a token issued by one replica verifies on the
// other, and killing the lease holder hands the delivery to the other within
// the lease time.
func TestTwoReplicas(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	s := slapdtest.Start(t, slapdtest.Options{LDIF: strings.NewReader(slapdtest.People)})
	hooks := &hookReceiver{counts: map[int64]int{}, types: map[int64]string{}}
	hs := httptest.NewServer(hooks)
	t.Cleanup(hs.Close)

	const interval, lease = time.Second, 2 * time.Second
	quoted, _ := json.Marshal(strings.ReplaceAll(dsn, "$", "$$"))
	doc := fmt.Sprintf(`listen: 127.0.0.1:0
public_url: http://canonid.test
log: {level: warn}
storage: {driver: postgres, dsn: %s}
login: {secret: %q}
oidc:
  keys: {secret: %q}
  clients:
    - {id: svc, secret: %q, grant_types: [client_credentials], scopes: [openid]}
webhooks:
  - {name: hook, url: %q, secret: %q, events: [account.created, account.updated]}
propagation: {lease: %s, poll: 200ms}
connectors:
  - name: campus
    type: ldap
    url: %s
    bind_dn: %s
    bind_password: %s
    base_dn: %s
    filter: (objectClass=supannPerson)
    interval: %s
`, quoted, strings.Repeat("l", 32), strings.Repeat("o", 32), strings.Repeat("s", 32), hs.URL, replicaHookSecret, lease,
		s.URL, s.AdminDN, s.AdminPassword, s.BaseDN, interval)
	cfg := filepath.Join(t.TempDir(), "canonid.yaml")
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "migrate", "--config", cfg)
	a := startReplica(t, cfg)
	b := startReplica(t, cfg)
	st := openTestStore(t, cfg)

	// A token issued by one replica verifies on the other: the signing
	// keys are in the database.
	tok := clientCredentials(t, a.url)
	for _, r := range []*replica{a, b} {
		if !introspect(t, r.url, tok) {
			t.Fatalf("the token issued by %s is not active on %s", a.url, r.url)
		}
	}

	// The scheduled sync: once per period between the two replicas. Runs
	// end at their tick plus their own length (the first, full, is the
	// longest), so count them: two replicas syncing each on their own would
	// fit six runs in three periods.
	var runs []time.Time
	poll(t, 30*time.Second, "six scheduled syncs", func() bool {
		runs = syncTimes(t, st)
		return len(runs) >= 6
	})
	if span := runs[len(runs)-1].Sub(runs[0]); span < time.Duration(len(runs)-2)*interval {
		t.Fatalf("%d syncs in %s (interval %s): %v", len(runs), span, interval, runs)
	}
	// Every account.created event of the sync reaches the webhook, once.
	created := outboxIDs(t, st, identity.EventAccountCreated)
	if len(created) != 6 {
		t.Fatalf("%d account.created events, want the 6 people of the directory", len(created))
	}
	poll(t, 20*time.Second, "the webhook deliveries", func() bool {
		got := hooks.snapshot()
		for _, id := range created {
			if got[id] == 0 {
				return false
			}
		}
		return true
	})
	for id, n := range hooks.snapshot() {
		if n != 1 {
			t.Errorf("event %d delivered %d times", id, n)
		}
	}

	// Kill the replica that delivers the webhook: the other takes over
	// within the lease, and a new change still arrives.
	holder := leaseHolder(t, st, "hook")
	victim, survivor := a, b
	if holder == b.owner {
		victim, survivor = b, a
	} else if holder != a.owner {
		t.Fatalf("the webhook's lease is held by %q, neither %s nor %s", holder, a.owner, b.owner)
	}
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	took := poll(t, 3*lease, "the survivor taking the lease", func() bool { return leaseHolder(t, st, "hook") == survivor.owner })
	// The survivor looks every lease/3: it takes over at most that long
	// after the lease ran out.
	if took > lease+lease/3+2*time.Second {
		t.Errorf("the survivor took the lease %s after the kill (lease %s)", took, lease)
	}
	t.Logf("lease handed over %s after the kill", took)
	s.Add(t, `dn: uid=newcomer,`+s.BaseDN+`
objectClass: inetOrgPerson
objectClass: supannPerson
uid: newcomer
cn: New Comer
sn: Comer
givenName: New
mail: newcomer@univ-test.fr
`)
	var newID int64
	poll(t, 20*time.Second, "the newcomer's account.created at the webhook", func() bool {
		ids := outboxIDs(t, st, identity.EventAccountCreated)
		if len(ids) < 7 {
			return false
		}
		newID = ids[len(ids)-1]
		return hooks.snapshot()[newID] > 0
	})
}

// clientCredentials gets an access token from a replica.
func clientCredentials(t *testing.T, base string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}
	req, _ := http.NewRequest(http.MethodPost, base+"/oidc/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc", strings.Repeat("s", 32))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || json.Unmarshal(raw, &body) != nil || body.AccessToken == "" {
		t.Fatalf("token: %d %s", res.StatusCode, raw)
	}
	return body.AccessToken
}

// introspect asks a replica whether tok is active.
func introspect(t *testing.T, base, tok string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/oidc/introspect", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc", strings.Repeat("s", 32))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var body struct {
		Active bool `json:"active"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(raw, &body) != nil {
		t.Fatalf("introspect: %d %s", res.StatusCode, raw)
	}
	return body.Active
}

// syncTimes lists when the campus connector's runs ended, in order.
func syncTimes(t *testing.T, st store.Store) []time.Time {
	t.Helper()
	var out []time.Time
	err := st.View(t.Context(), func(tx store.Tx) error {
		es, err := tx.Audit().List(t.Context(), store.AuditQuery{Type: identity.EventConnectorSynced, Limit: 1000})
		for _, e := range es {
			out = append(out, e.At)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// outboxIDs lists the outbox ids of the events of one type.
func outboxIDs(t *testing.T, st store.Store, typ string) []int64 {
	t.Helper()
	var out []int64
	var after int64
	for {
		evs, err := st.Outbox().After(t.Context(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Type == typ {
				out = append(out, e.Seq)
			}
			after = e.Seq
		}
		if len(evs) < 1000 {
			return out
		}
	}
}

// leaseHolder names who holds a target's lease now.
func leaseHolder(t *testing.T, st store.Store, target string) string {
	t.Helper()
	var owner string
	err := st.View(t.Context(), func(tx store.Tx) error {
		ts, err := tx.Propagation().Targets(t.Context())
		for _, p := range ts {
			if p.Name == target && p.LeaseUntil.After(time.Now()) {
				owner = p.LeaseOwner
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return owner
}

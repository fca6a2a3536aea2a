package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/propagate"
	"github.com/canonid/canonid/propagate/webhook"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

const secret = "0123456789abcdef-webhook-secret"

// receiver is a webhook endpoint that checks signatures and keeps the
// events, deduplicated on the delivery id; status, when set, is answered
// instead.
type receiver struct {
	mu       sync.Mutex
	status   int
	header   http.Header
	events   []propagate.Event
	seen     map[string]bool
	rejected int
	got      chan struct{}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := webhook.Verify(secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
		rc.rejected++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if rc.status != 0 {
		for k, v := range rc.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rc.status)
		return
	}
	var ev propagate.Event
	if err := json.Unmarshal(body, &ev); err != nil || r.Header.Get(webhook.HeaderEvent) != ev.Type {
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	if id := r.Header.Get(webhook.HeaderDelivery); !rc.seen[id] {
		rc.seen[id] = true
		rc.events = append(rc.events, ev)
	}
	select {
	case rc.got <- struct{}{}:
	default:
	}
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	rc := &receiver{seen: map[string]bool{}, got: make(chan struct{}, 1)}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv
}

func TestDeliverSignsAndClassifies(t *testing.T) {
	rc, srv := newReceiver(t)
	tg, err := webhook.New(webhook.Config{Name: "crm", URL: srv.URL + "/hook", Secret: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := propagate.Event{ID: 7, Type: identity.EventAccountMerged, At: time.Now().UTC(), AccountID: "a1",
		Data: map[string]any{"survivor_id": "a1", "retired_id": "a2"}}
	if err := tg.Deliver(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if len(rc.events) != 1 || rc.events[0].ID != 7 || rc.events[0].Data["retired_id"] != "a2" {
		t.Fatalf("received %+v", rc.events)
	}
	// The same event again is the same delivery; another event with the
	// same number (recorded after a restore from a backup) is not.
	if err := tg.Deliver(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	again := ev
	again.At = ev.At.Add(time.Microsecond)
	if err := tg.Deliver(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	if len(rc.events) != 2 || !rc.seen[webhook.DeliveryID(ev)] || !rc.seen[webhook.DeliveryID(again)] {
		t.Fatalf("deliveries seen %v, events %+v", rc.seen, rc.events)
	}
	if id := webhook.DeliveryID(propagate.Event{ID: 1234, At: time.Date(2025, 12, 5, 16, 0, 0, 123456789, time.UTC)}); id != "1234-1764950400123456" {
		t.Errorf("DeliveryID = %q", id)
	}

	// A wrong secret is refused by the receiver: an ordinary error.
	bad, _ := webhook.New(webhook.Config{Name: "crm", URL: srv.URL, Secret: "another-secret-of-16+"}, nil)
	err = bad.Deliver(context.Background(), ev)
	if down, _ := propagate.IsUnavailable(err); err == nil || down || !strings.Contains(err.Error(), "401") || rc.rejected != 1 {
		t.Fatalf("wrong secret: %v (rejected %d)", err, rc.rejected)
	}

	rc.mu.Lock()
	rc.status, rc.header = http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}}
	rc.mu.Unlock()
	err = tg.Deliver(context.Background(), ev)
	if down, after := propagate.IsUnavailable(err); !down || after != 7*time.Second {
		t.Fatalf("429: %v (unavailable %v, after %v)", err, down, after)
	}
	rc.mu.Lock()
	rc.status, rc.header = http.StatusServiceUnavailable, nil
	rc.mu.Unlock()
	if down, _ := propagate.IsUnavailable(tg.Deliver(context.Background(), ev)); !down {
		t.Fatal("503 is not unavailability")
	}
	rc.mu.Lock()
	rc.status = http.StatusUnprocessableEntity
	rc.mu.Unlock()
	err = tg.Deliver(context.Background(), ev)
	if down, _ := propagate.IsUnavailable(err); err == nil || down {
		t.Fatalf("422: %v", err)
	}

	srv.Close()
	if down, _ := propagate.IsUnavailable(tg.Deliver(context.Background(), ev)); !down {
		t.Fatal("a closed server is not unavailability")
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_764_950_400, 0)
	body := []byte(`{"id":1}`)
	h := http.Header{}
	h.Set(webhook.HeaderTimestamp, "1764950400")
	h.Set(webhook.HeaderSignature, webhook.Sign(secret, 1_764_950_400, body))
	if err := webhook.Verify(secret, h, body, now, time.Minute); err != nil {
		t.Fatal(err)
	}
	for name, check := range map[string]func() error{
		"tampered body": func() error { return webhook.Verify(secret, h, []byte(`{"id":2}`), now, time.Minute) },
		"other secret":  func() error { return webhook.Verify("x"+secret, h, body, now, time.Minute) },
		"old":           func() error { return webhook.Verify(secret, h, body, now.Add(time.Hour), time.Minute) },
		"no timestamp":  func() error { return webhook.Verify(secret, http.Header{}, body, now, time.Minute) },
	} {
		if check() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestValidate(t *testing.T) {
	err := webhook.Config{URL: "ftp://x", Secret: "short", Timeout: -1}.Validate()
	for _, want := range []string{"name is required", "must be an http(s) URL", "at least 16 characters", "timeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}

// TestDispatcherToWebhook: the events of a merge reach the webhook in
// outbox order, once each, through a receiver that was down for a while.
func TestDispatcherToWebhook(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		rc, srv := newReceiver(t)
		rc.status = http.StatusServiceUnavailable
		tg, err := webhook.New(webhook.Config{Name: "crm", URL: srv.URL, Secret: secret}, nil)
		if err != nil {
			t.Fatal(err)
		}
		d := propagate.New(st, propagate.Options{Owner: "test", Poll: 50 * time.Millisecond})
		d.AddEventTarget(propagate.TargetConfig{Name: "crm", MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}, tg)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = d.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })

		svc := accounts.New(st, accounts.Config{}, nil)
		a, err := svc.Create(ctx, accounts.NewAccount{Login: "a", GivenName: "A", FamilyName: "A", Source: "admin",
			Emails: []accounts.NewEmail{{Address: "a@example.test", Verified: true}}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		b, err := svc.Create(ctx, accounts.NewAccount{Login: "b", GivenName: "B", FamilyName: "B", Source: "admin"}, "test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: a.ID, RetiredID: b.ID, Reason: "admin", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		rc.mu.Lock()
		rc.status = 0
		rc.mu.Unlock()
		deadline := time.After(10 * time.Second)
		for {
			rc.mu.Lock()
			n := len(rc.events)
			rc.mu.Unlock()
			if n >= 3 {
				break
			}
			select {
			case <-rc.got:
			case <-deadline:
				t.Fatalf("received %d events", n)
			}
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		var types []string
		for i, ev := range rc.events {
			types = append(types, ev.Type)
			if i > 0 && ev.ID <= rc.events[i-1].ID {
				t.Fatalf("event %d after %d", ev.ID, rc.events[i-1].ID)
			}
		}
		want := []string{identity.EventAccountCreated, identity.EventAccountCreated, identity.EventAccountMerged}
		if strings.Join(types, ",") != strings.Join(want, ",") {
			t.Fatalf("types %v, want %v", types, want)
		}
		merged := rc.events[2]
		if merged.Account == nil || merged.Account.ID != a.ID || merged.Data["retired_id"] != b.ID {
			t.Fatalf("merge event %+v", merged)
		}
	})
}

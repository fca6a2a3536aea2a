package propagate_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/propagate"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// TestHandler: the status, the dead letters and their retry over
// /api/v1/propagation, for support tokens only.
func TestHandler(t *testing.T) {
	gin.SetMode(gin.TestMode)
	st := storetest.OpenSQLite(t)
	ctx := t.Context()
	// A target with two dead letters, as a dispatcher would leave it.
	err := st.Update(ctx, func(tx store.Tx) error {
		if _, _, err := tx.Propagation().Lease(ctx, "lms", "test", propNow, propNow.Add(time.Hour)); err != nil {
			return err
		}
		return tx.Propagation().Commit(ctx, store.PropagationProgress{Target: "lms", Owner: "test", Now: propNow,
			Dead: []store.DeadLetter{{AccountID: "a1", EventType: "account.active", Attempts: 5, LastError: "400 bad"},
				{AccountID: "a2", EventType: "account.active", Attempts: 5, LastError: "400 worse"}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	d := propagate.New(st, propagate.Options{})
	d.AddAccountTarget(propagate.TargetConfig{Name: "lms"}, newMemTarget())
	role := store.RoleSupport
	h := propagate.NewHandler(st, d, func(*http.Request) (store.APIToken, bool) {
		return store.APIToken{Name: "ops", Role: role}, true
	})
	e := gin.New()
	h.Mount(e.Group("/api/v1"))
	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}

	code, body := call("GET", "/api/v1/propagation/targets", "")
	targets, _ := body["targets"].([]any)
	if code != 200 || len(targets) != 1 || targets[0].(map[string]any)["dead_letters"] != 2.0 {
		t.Fatalf("targets: %d %v", code, body)
	}
	code, body = call("GET", "/api/v1/propagation/dead-letters?target=lms&limit=1", "")
	dead, _ := body["dead_letters"].([]any)
	if code != 200 || len(dead) != 1 || body["next_before"] == nil {
		t.Fatalf("dead letters page: %d %v", code, body)
	}
	first := dead[0].(map[string]any)
	code, body = call("GET", "/api/v1/propagation/dead-letters?target=lms&before="+jsonNumber(first["id"]), "")
	if dead, _ := body["dead_letters"].([]any); code != 200 || len(dead) != 1 {
		t.Fatalf("second page: %d %v", code, body)
	}
	for path, want := range map[string]int{
		"/api/v1/propagation/dead-letters?target=nope":  404,
		"/api/v1/propagation/dead-letters?before=x":     400,
		"/api/v1/propagation/dead-letters?limit=100000": 400,
	} {
		if code, body := call("GET", path, ""); code != want || body["error"] == "" {
			t.Errorf("GET %s: %d %v, want %d with an error", path, code, body, want)
		}
	}

	code, body = call("POST", "/api/v1/propagation/targets/lms/retry", `{"ids": [`+jsonNumber(first["id"])+`]}`)
	if code != 202 || body["marked"] != 1.0 {
		t.Fatalf("retry one: %d %v", code, body)
	}
	code, body = call("POST", "/api/v1/propagation/targets/lms/retry", "")
	if code != 202 || body["marked"] != 1.0 { // the other one
		t.Fatalf("retry all: %d %v", code, body)
	}
	if code, _ := call("POST", "/api/v1/propagation/targets/nope/retry", ""); code != 404 {
		t.Errorf("retry of an unknown target: %d", code)
	}
	if code, _ := call("POST", "/api/v1/propagation/targets/lms/retry", `{"ids": "all"}`); code != 400 {
		t.Errorf("retry with a bad body: %d", code)
	}
	var audited []store.AuditEntry
	if err := st.View(ctx, func(tx store.Tx) error {
		var err error
		audited, err = tx.Audit().List(ctx, store.AuditQuery{Type: propagate.EventRetryRequested})
		return err
	}); err != nil || len(audited) != 2 || audited[0].Actor != "token:ops" {
		t.Fatalf("audit: %+v, %v", audited, err)
	}

	role = store.RoleOrgAdmin
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v1/propagation/targets"}, {"GET", "/api/v1/propagation/dead-letters"},
		{"POST", "/api/v1/propagation/targets/lms/retry"},
	} {
		if code, _ := call(r.method, r.path, ""); code != 403 {
			t.Errorf("%s %s with an org-admin token: %d, want 403", r.method, r.path, code)
		}
	}
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// propNow is the clock of the bookkeeping written by the tests.
var propNow = time.Now().UTC()

package push

import (
	"strings"
	"testing"
	"time"
)

// TestValidate: every problem at once, each under its key; never the
// token or the URL's credentials.
func TestValidate(t *testing.T) {
	ok := Config{Name: "formation", URL: "https://lms.example/scim/v2", Token: "t0k"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	bad := Config{Name: "bad name", URL: "ftp://user:hunter2@lms.example/scim?x=1", Token: "has space hunter3",
		OnMerge: "purge", DeleteAfter: -time.Hour, Timeout: -time.Second}
	err := bad.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	msg := err.Error()
	for _, want := range []string{"name:", "url:", "scheme", "credentials", "query", "token:", "on_merge:", "delete_after:", "timeout:"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not report %q:\n%s", want, msg)
		}
	}
	for _, secret := range []string{"hunter2", "hunter3"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error shows a secret:\n%s", msg)
		}
	}
	for _, c := range []Config{
		{Name: "x", Token: "t"},
		{Name: "x", URL: "https://h/scim", Token: " "},
		{Name: "", URL: "https://h/scim", Token: "t"},
		{Name: "x", URL: "/scim/v2", Token: "t"},
	} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := New(bad, nil); err == nil {
		t.Error("New accepted an invalid config")
	}
}

// TestGrace: when retired Users are deleted, by on_merge and delete_after.
func TestGrace(t *testing.T) {
	for _, c := range []struct {
		onMerge string
		after   time.Duration
		want    time.Duration
		ok      bool
	}{
		{"", 0, 0, false},
		{OnMergeDeactivate, 0, 0, false},
		{OnMergeDeactivate, 72 * time.Hour, 72 * time.Hour, true},
		{OnMergeDelete, 0, DefaultDeleteAfter, true},
		{OnMergeDelete, time.Hour, time.Hour, true},
	} {
		tg, err := New(Config{Name: "x", URL: "https://h/scim/v2/", Token: "t", OnMerge: c.onMerge, DeleteAfter: c.after}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := tg.Grace(); d != c.want || ok != c.ok {
			t.Errorf("on_merge %q, delete_after %s: Grace() = %s, %v; want %s, %v", c.onMerge, c.after, d, ok, c.want, c.ok)
		}
		if tg.cfg.URL != "https://h/scim/v2" || tg.cfg.Timeout != DefaultTimeout || tg.Name() != "x" {
			t.Errorf("defaults not applied: %+v", tg.cfg)
		}
	}
}

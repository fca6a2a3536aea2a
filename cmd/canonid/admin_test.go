package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestLoginAdmins reads and checks login.admins: the logins of the support
// console, beside the login pages' own keys.
func TestLoginAdmins(t *testing.T) {
	cfg, problems := parseConfig([]byte("login:\n  session_idle: 1h\n  admins: [sophie.support, Marc.Helpdesk]\n"), env(nil))
	if len(problems) > 0 {
		t.Fatalf("problems: %q", problems)
	}
	if !slices.Equal(cfg.Login.Admins, []string{"sophie.support", "Marc.Helpdesk"}) || cfg.Login.SessionIdle.Hours() != 1 {
		t.Errorf("login = %+v", cfg.Login)
	}

	_, problems = parseConfig([]byte("login:\n  admins: [sophie.support, '', 'a b', SOPHIE.support, x]\n"), env(nil))
	want := []string{
		`login.admins[1]: empty login (line 2)`,
		`login.admins[2]: "a b" is not a login`,
		`login.admins[3]: "SOPHIE.support" is already listed (admins[0])`,
	}
	if len(problems) != len(want) {
		t.Fatalf("problems: %q, want %d", problems, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(problems[i], w) {
			t.Errorf("problem %d: %q, want %q…", i, problems[i], w)
		}
	}
}

// TestServeMountsAdmin checks that serve mounts the support console: a
// visitor without a session is sent to the login page, which leads back.
func TestServeMountsAdmin(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, "listen: 127.0.0.1:0\nlogin:\n  admins: [sophie.support]\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	lines := make(chan string, 8)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	done := make(chan error, 1)
	go func() {
		err := runServe(ctx, cfg, serveOptions{Version: "test"}, pw)
		pw.Close()
		done <- err
	}()
	var first string
	select {
	case first = <-lines:
	case err := <-done:
		t.Fatalf("runServe returned before serving: %v", err)
	}
	base := regexp.MustCompile(`serving on (http://127\.0\.0\.1:[0-9]+) `).FindStringSubmatch(first)
	if base == nil {
		t.Fatalf("serving line %q", first)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]string{"/admin": "/login?next=%2Fadmin", "/admin/connectors": "/login?next=%2Fadmin%2Fconnectors"} {
		resp, err := client.Get(base[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("GET %s: %d to %q, want 303 to %s", path, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("runServe after cancel = %v", err)
	}
	for range lines {
	}
}

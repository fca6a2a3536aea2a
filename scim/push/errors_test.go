package push

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/propagate"
)

var clock = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// TestErrorClassification: a provider that cannot answer now makes an
// UnavailableError with the delay it asks for; one that refuses the
// request makes an ordinary error naming the request and the SCIM detail.
// No error shows the token.
func TestErrorClassification(t *testing.T) {
	const token = "secret-token-42"
	scimBody := func(status, detail string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"` + status + `","detail":"` + detail + `"}`
	}
	for _, c := range []struct {
		name        string
		status      int
		header      string
		body        string
		unavailable bool
		retry       time.Duration
		mentions    []string
	}{
		{"429 seconds", 429, "30", scimBody("429", "slow down"), true, 30 * time.Second, []string{"POST /scim/v2/Users", "429", "slow down"}},
		{"429 date", 429, clock.Add(2 * time.Minute).Format(http.TimeFormat), scimBody("429", "slow down"), true, 2 * time.Minute, []string{"429"}},
		{"503", 503, "7", "<html>maintenance</html>", true, 7 * time.Second, []string{"503", "maintenance"}},
		{"502", 502, "", "bad gateway", true, 0, []string{"502"}},
		{"504", 504, "", "", true, 0, []string{"504"}},
		{"400", 400, "", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"invalidValue","detail":"emails: not an address"}`,
			false, 0, []string{"POST /scim/v2/Users", "400", "invalidValue", "emails: not an address"}},
		{"403", 403, "", scimBody("403", "not for you"), false, 0, []string{"403", "not for you"}},
		{"500", 500, "", strings.Repeat("x", 1000), false, 0, []string{"500", "xxx…"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got http.Header
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Clone()
				if c.header != "" {
					w.Header().Set("Retry-After", c.header)
				}
				w.WriteHeader(c.status)
				_, _ = io.WriteString(w, c.body)
			}))
			defer srv.Close()
			tg, err := New(Config{Name: "t", URL: srv.URL + "/scim/v2", Token: token}, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			tg.now = func() time.Time { return clock }
			_, err = tg.Write(t.Context(), account("acc-1", "a", "A", "B", "a@b.example"), propagate.Remote{})
			if err == nil {
				t.Fatal("no error")
			}
			ok, retry := propagate.IsUnavailable(err)
			if ok != c.unavailable || retry != c.retry {
				t.Errorf("IsUnavailable = %v, %s; want %v, %s (%v)", ok, retry, c.unavailable, c.retry, err)
			}
			var he *HTTPError
			if !errors.As(err, &he) || he.Status != c.status {
				t.Errorf("error %v does not carry the HTTP status %d", err, c.status)
			}
			for _, m := range c.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error %q shows the token", err)
			}
			for k, want := range map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/scim+json", "User-Agent": "canonid"} {
				if got.Get(k) != want {
					t.Errorf("request header %s = %q, want %q", k, got.Get(k), want)
				}
			}
		})
	}
}

// TestRateLimitedByServer: canonid's own server answers 429 with
// Retry-After past its burst.
func TestRateLimitedByServer(t *testing.T) {
	cfg := fastConfig()
	cfg.Rate, cfg.Burst = 0.001, 1 // one request, then one per 1000 s
	e := newEnv(t, cfg)
	tg := e.target()
	a := account("acc-1", "a", "A", "B", "a@b.example")
	r, err := tg.Write(t.Context(), a, propagate.Remote{})
	if err != nil {
		t.Fatal(err)
	}
	a.GivenName = "C"
	_, err = tg.Write(t.Context(), a, r)
	ok, retry := propagate.IsUnavailable(err)
	if !ok || retry <= 0 || retry > 1000*time.Second {
		t.Errorf("rate-limited write: %v (unavailable %v, retry after %s)", err, ok, retry)
	}
}

// TestTransportErrors: refused connections and timeouts are
// unavailability; the caller's cancellation is not.
func TestTransportErrors(t *testing.T) {
	a := account("acc-1", "a", "A", "B", "a@b.example")

	t.Run("refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		tg, err := New(Config{Name: "t", URL: url, Token: "s3cr3t-xyz"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tg.Write(t.Context(), a, propagate.Remote{})
		if ok, _ := propagate.IsUnavailable(err); !ok {
			t.Errorf("connection refused: %v, want unavailable", err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t-xyz") {
			t.Errorf("error %q shows the token", err)
		}
	})

	// hang never answers, until the client goes or the test ends.
	hang := func(t *testing.T) *httptest.Server {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // so that the server notices the client going
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) }) // runs first
		return srv
	}

	t.Run("timeout", func(t *testing.T) {
		srv := hang(t)
		tg, err := New(Config{Name: "t", URL: srv.URL, Token: "s3cr3t-xyz", Timeout: 50 * time.Millisecond}, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		_, err = tg.Write(t.Context(), a, propagate.Remote{})
		if ok, _ := propagate.IsUnavailable(err); !ok || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("timeout: %v, want unavailable, deadline exceeded", err)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		srv := hang(t)
		tg, err := New(Config{Name: "t", URL: srv.URL, Token: "s3cr3t-xyz"}, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err = tg.Write(ctx, a, propagate.Remote{})
		if ok, _ := propagate.IsUnavailable(err); ok || !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled: %v, want context.Canceled, not unavailable", err)
		}
	})
}

package jsonapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

func TestRetryAfter(t *testing.T) {
	for wait, want := range map[time.Duration]string{
		0: "1", -time.Second: "1", time.Millisecond: "1", time.Second: "1", 1001 * time.Millisecond: "2",
		1000*time.Millisecond + 400*time.Microsecond: "1", 59*time.Second + 1: "59", time.Minute: "60",
	} {
		if got := RetryAfter(wait); got != want {
			t.Errorf("RetryAfter(%v) = %s, want %s", wait, got, want)
		}
	}
}

// call runs h on a request with the given headers and body.
func call(h func(c *gin.Context), header map[string]string, body string) *httptest.ResponseRecorder {
	gin.SetMode(gin.ReleaseMode)
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	for k, v := range header {
		c.Request.Header.Set(k, v)
	}
	h(c)
	return w
}

func TestDecode(t *testing.T) {
	type body struct {
		Name string `json:"name"`
	}
	for _, tc := range []struct {
		name, ctype, body string
		typed             bool
		status            int
		want              string
	}{
		{"good", "application/json", `{"name":"x"}`, true, 200, ""},
		{"charset", "application/json; charset=utf-8", `{"name":"x"}`, true, 200, ""},
		{"untyped needs no type", "", `{"name":"x"}`, false, 200, ""},
		{"form", "application/x-www-form-urlencoded", `name=x`, true, 415, "must be application/json"},
		{"unknown field", "application/json", `{"name":"x","admin":true}`, true, 400, `unknown field \"admin\"`},
		{"too large", "application/json", `{"name":"` + strings.Repeat("x", 100) + `"}`, true, 400, "request body too large"},
		{"not json", "application/json", `{`, false, 400, "request body: "},
	} {
		var v body
		decode := Decode
		if tc.typed {
			decode = DecodeTyped
		}
		ok := false
		w := call(func(c *gin.Context) { ok = decode(c, &v, 64) }, map[string]string{"Content-Type": tc.ctype}, tc.body)
		if ok != (tc.status == 200) || (tc.status != 200 && w.Code != tc.status) || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s: ok %v, %d %s; want status %d with %q", tc.name, ok, w.Code, w.Body, tc.status, tc.want)
		}
		if tc.status == 200 && v.Name != "x" {
			t.Errorf("%s: decoded %+v", tc.name, v)
		}
	}
}

func TestRateLimited(t *testing.T) {
	w := call(func(c *gin.Context) { RateLimited(c, 1500*time.Millisecond) }, nil, "")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" || !strings.Contains(w.Body.String(), `"error"`) {
		t.Errorf("RateLimited: %d, Retry-After %q, %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
}

func TestLocale(t *testing.T) {
	for _, tc := range []struct {
		given, accept, want string
		ok                  bool
	}{
		{"en", "fr-FR", "en", true},
		{"fr", "en", "fr", true},
		{"", "en-GB,en;q=0.9", "en", true},
		{"", "de-DE, fr;q=0.5", "fr", true},
		{"", "", "fr", true},
		{"", "nonsense;;", "fr", true},
		{"de", "en", "", false},
	} {
		var got string
		var ok bool
		w := call(func(c *gin.Context) { got, ok = Locale(c, tc.given) }, map[string]string{"Accept-Language": tc.accept}, "")
		if got != tc.want || ok != tc.ok || (!ok && w.Code != http.StatusBadRequest) {
			t.Errorf("Locale(%q, Accept-Language %q) = %q, %v (%d); want %q, %v", tc.given, tc.accept, got, ok, w.Code, tc.want, tc.ok)
		}
	}
}

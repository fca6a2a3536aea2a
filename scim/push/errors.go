package push

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/canonid/canonid/propagate"
)

// HTTPError is an error answer of the provider (RFC 7644 §3.12). Answers
// that mean "not now" (429, 502, 503, 504) come wrapped in a
// propagate.UnavailableError.
type HTTPError struct {
	Method string
	// Path is the path of the request URL (no host, no query).
	Path   string
	Status int
	// ScimType and Detail are those of the SCIM error body, if any; Detail
	// is the start of the body when it is not a SCIM error.
	ScimType string
	Detail   string
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.ScimType != "" {
		fmt.Fprintf(&b, " (%s)", e.ScimType)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// statusOf returns the HTTP status of the provider's answer err carries,
// or 0.
func statusOf(err error) int {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

// maxDetail bounds the part of a non-SCIM error body shown in an error.
const maxDetail = 300

// responseError turns an error answer into an error: an UnavailableError
// for the statuses that mean "retry later", an *HTTPError otherwise.
func responseError(req *http.Request, res *http.Response, body []byte, now time.Time) error {
	he := &HTTPError{Method: req.Method, Path: req.URL.Path, Status: res.StatusCode}
	var se struct {
		ScimType string          `json:"scimType"`
		Detail   string          `json:"detail"`
		Status   json.RawMessage `json:"status"`
	}
	if err := json.Unmarshal(body, &se); err == nil && (se.Detail != "" || se.ScimType != "" || se.Status != nil) {
		he.ScimType, he.Detail = se.ScimType, se.Detail
	} else {
		he.Detail = snippet(body)
	}
	switch res.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return propagate.Unavailable(he, propagate.RetryAfter(res.Header.Get("Retry-After"), now))
	}
	return he
}

// snippet is the start of a body, on one line.
func snippet(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > maxDetail {
		cut := maxDetail
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

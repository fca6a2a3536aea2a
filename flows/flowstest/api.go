package flowstest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// Answer is an answer of the JSON API, its body decoded.
type Answer struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// ErrorText is the answer's error message, its "error" field.
func (a Answer) ErrorText() string { s, _ := a.Body["error"].(string); return s }

// CallAPI sends body to url with headers, given as name, value pairs, and
// decodes the answer, failing t when it is not JSON.
func CallAPI(t *testing.T, method, url string, body []byte, headers ...string) Answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := Answer{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	if err := json.Unmarshal(raw, &a.Body); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %q", method, url, res.StatusCode, raw)
	}
	return a
}

// PostAPI posts v as JSON to url.
func PostAPI(t *testing.T, url string, v any) Answer {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return CallAPI(t, http.MethodPost, url, b, "Content-Type", "application/json")
}

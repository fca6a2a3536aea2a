package sqlstore

import (
	"encoding/json"
	"reflect"
	"testing"
)

var flatDocs = []string{
	`{}`, ` { } `, `{"a":"x"}`, `{"a": "x", "b": "y"}`, `{"a":"x","a":"y"}`, `{"é":"ü","k":""}`,
	`{"given_name":"ldap:campus","email":"scim:hr"}`,
	`{"a":["x","y"],"b":[]}`, `{"a": ["x"], "b": null}`, `{"a":["x",null]}`, `{"a":null}`,
	`{"a":"x\"y"}`, `{"a":"\u003cb\u003e"}`, `{"a":1}`, `{"a":["x",1]}`, `{"a":true}`,
	`{"a":"x",}`, `{"a":"x"`, `{"a" "x"}`, `{"a":"x"} x`, `[]`, `null`, `"x"`, `{"a":"x` + "\x01" + `"}`,
	`{"a":"` + "\xff" + `"}`, "{\"a\":\"x\"}\n", `{"a":{"b":"c"}}`, `{"a":["x"]],"b":["y"]}`,
	`{"supann_emp_id":["E-42"],"ine":["123456789AB"]}`,
}

// decodeBoth decodes doc with the fast path and with encoding/json, into
// maps that already hold a key (Unmarshal adds to a non-nil map).
func decodeBoth[M any](t *testing.T, doc string, fast func([]byte, *M) error, seed func() M) {
	t.Helper()
	got, want := seed(), seed()
	gerr := fast([]byte(doc), &got)
	werr := json.Unmarshal([]byte(doc), &want)
	if (gerr == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
		t.Errorf("%T of %q: got %#v (%v), json.Unmarshal %#v (%v)", got, doc, got, gerr, want, werr)
	}
}

func checkFlat(t *testing.T, doc string) {
	t.Helper()
	decodeBoth(t, doc, decodeStrings, func() map[string]string { return nil })
	decodeBoth(t, doc, decodeStrings, func() map[string]string { return map[string]string{"old": "v"} })
	decodeBoth(t, doc, decodeStringLists, func() map[string][]string { return nil })
	decodeBoth(t, doc, decodeStringLists, func() map[string][]string { return map[string][]string{"old": {"v"}} })
}

// TestFlatJSON: the fast decoding of attribute and provenance columns gives
// what encoding/json gives, on well-formed and malformed documents.
func TestFlatJSON(t *testing.T) {
	for _, doc := range flatDocs {
		checkFlat(t, doc)
	}
}

func FuzzFlatJSON(f *testing.F) {
	for _, doc := range flatDocs {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc string) { checkFlat(t, doc) })
}

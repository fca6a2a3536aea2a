package sqlstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
	"unicode/utf8"
)

var tupleDocs = []string{
	``, `[]`, ` [ ] `, `[["a@x.org",true,false]]`, `[["a@x.org",1,0],["b@x.org",0,1]]`,
	`[["ldap:campus","uid=\"x\"","active"]]`, `[["scim:hr","\u00e9\\n","gone"]]`,
	`[[null,-1.5e3,"x"]]`, `[["a","b"]]`, `[["a","b","c","d"]]`, `[["a","b","c"],]`, `[["a","b","c"]`,
	`[["a","b","c"]] x`, `[["a","b","c"]][]`, `null`, `[null]`, `[[{"a":1},"b","c"]]`, `[[["a"],"b","c"]]`,
	`[["a` + "\x01" + `","b","c"]]`, `[["` + "\xff" + `","b","c"]]`, `[["a\q","b","c"]]`, `[["a\`,
	`[[tru,"b","c"]]`, `[[1"a","b","c"]]`, `[[01,"b","c"]]`, "[[\"a\",\n\"b\" , \"c\"]\n]", `[["é","ü",""]]`,
}

// referenceTuples decodes doc with encoding/json as decodeTuples should.
func referenceTuples(doc []byte, width int) ([][]tupleValue, bool) {
	if len(doc) == 0 {
		return nil, true
	}
	if !utf8.Valid(doc) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	var out [][]tupleValue
	for _, e := range list {
		tuple, ok := e.([]any)
		if !ok || len(tuple) != width {
			return nil, false
		}
		vals := make([]tupleValue, width)
		for i, s := range tuple {
			switch s := s.(type) {
			case string:
				vals[i] = tupleValue{s: s, quoted: true}
			case json.Number:
				vals[i] = tupleValue{s: string(s)}
			case bool:
				vals[i] = tupleValue{s: map[bool]string{true: "true", false: "false"}[s]}
			case nil:
				vals[i] = tupleValue{s: "null"}
			default:
				return nil, false
			}
		}
		out = append(out, vals)
	}
	return out, true
}

func checkTuples(t *testing.T, doc string) {
	t.Helper()
	var got [][]tupleValue
	err := decodeTuples([]byte(doc), 3, func(v []tupleValue) {
		got = append(got, append([]tupleValue(nil), v...))
	})
	want, ok := referenceTuples([]byte(doc), 3)
	if (err == nil) != ok || ok && !reflect.DeepEqual(got, want) {
		t.Errorf("%q: got %v (%v), encoding/json %v (valid %v)", doc, got, err, want, ok)
	}
}

// TestTuples: decodeTuples reads what the databases aggregate as
// encoding/json does, and refuses what encoding/json refuses or what is not
// an array of triples.
func TestTuples(t *testing.T) {
	for _, doc := range tupleDocs {
		checkTuples(t, doc)
	}
}

func FuzzTuples(f *testing.F) {
	for _, doc := range tupleDocs {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc string) { checkTuples(t, doc) })
}

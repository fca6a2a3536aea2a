package sqlstore

import (
	"reflect"
	"testing"
)

var tupleDocs = []string{
	``, `[]`, ` [ ] `, `[["a@x.org",true,false]]`, `[["a@x.org",1,0],["b@x.org",0,1]]`,
	`[["ldap:campus","uid=\"x\"","active"]]`, `[["scim:hr","\u00e9\\n","gone"]]`,
	`[[null,-1.5e3,"x"]]`, `[["a","b"]]`, `[["a","b","c","d"]]`, `[["a","b","c"],]`, `[["a","b","c"]`,
	`[["a","b","c"]] x`, `[["a","b","c"]][]`, `null`, `[null]`, `[[{"a":1},"b","c"]]`, `[[["a"],"b","c"]]`,
	`[["a` + "\x01" + `","b","c"]]`, `[["` + "\xff" + `","b","c"]]`, `[["a\q","b","c"]]`, `[["a\`,
	`[[tru,"b","c"]]`, `[[1"a","b","c"]]`, `[[01,"b","c"]]`, `[[12,nullx,"c"]]`, "[[\"a\",\n\"b\" , \"c\"]\n]",
	`[["é","ü",""]]`,
}

// collect returns the tuples decode reads from doc, three scalars each.
func collect(decode func([]byte, int, func([]tupleValue)) error, doc string) ([][]tupleValue, error) {
	var got [][]tupleValue
	err := decode([]byte(doc), 3, func(v []tupleValue) {
		got = append(got, append([]tupleValue(nil), v...))
	})
	return got, err
}

// checkTuples compares decodeTuples with decodeTuplesJSON, encoding/json's
// reading.
func checkTuples(t *testing.T, doc string) {
	t.Helper()
	got, err := collect(decodeTuples, doc)
	want, werr := collect(decodeTuplesJSON, doc)
	if doc == "" {
		want, werr = nil, nil // SQL NULL: no tuple
	}
	if (err == nil) != (werr == nil) || err == nil && !reflect.DeepEqual(got, want) {
		t.Errorf("%q: got %v (%v), encoding/json %v (%v)", doc, got, err, want, werr)
	}
}

// TestTuples: decodeTuples reads what the databases aggregate without
// encoding/json, and anything else as encoding/json does; what is not an
// array of triples of scalars is refused.
func TestTuples(t *testing.T) {
	for _, doc := range tupleDocs {
		checkTuples(t, doc)
	}
	for _, doc := range []string{`[]`, ` [ ] `, `[["a@x.org",true,false]]`, `[["a@x.org",1,0],["b@x.org",0,1]]`, `[[null,"é","ü"]]`} {
		if _, ok := flatTuples([]byte(doc), 3); !ok {
			t.Errorf("%q went to encoding/json", doc)
		}
	}
	q := func(s string) tupleValue { return tupleValue{s: s, quoted: true} }
	for doc, want := range map[string][][]tupleValue{
		`[["a@x.org",1,0],["b@x.org",true,false]]`: {{q("a@x.org"), {s: "1"}, {s: "0"}}, {q("b@x.org"), {s: "true"}, {s: "false"}}},
		`[["uid=\"x\"",-1.5e3,null]]`:              {{q(`uid="x"`), {s: "-1.5e3"}, {s: "null"}}},
		` [ ] `:                                    nil,
	} {
		if got, err := collect(decodeTuples, doc); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q = %v (%v), want %v", doc, got, err, want)
		}
	}
	for _, doc := range []string{`null`, `[null]`, `[["a","b"]]`, `[[{"a":1},"b","c"]]`, `[["a","b","c"]] x`, `[["` + "\xff" + `","b","c"]]`} {
		if _, err := collect(decodeTuples, doc); err == nil {
			t.Errorf("%q: no error", doc)
		}
	}
}

func FuzzTuples(f *testing.F) {
	for _, doc := range tupleDocs {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc string) { checkTuples(t, doc) })
}

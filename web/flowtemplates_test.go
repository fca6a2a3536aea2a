package web

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"
)

// TestParseFlowTemplates: each page is parsed with the shared partials
// into its destination, and an error names the file that fails.
func TestParseFlowTemplates(t *testing.T) {
	fsys := fstest.MapFS{
		"templates/a.html":       {Data: []byte(`{{define "content"}}A {{template "part" .}}{{end}}`)},
		"templates/b.html":       {Data: []byte(`{{define "content"}}B {{template "part" .}}{{end}}`)},
		"templates/part.html":    {Data: []byte(`{{define "part"}}[{{.Title}}]{{end}}`)},
		"templates/broken.html":  {Data: []byte(`{{define "content"}}{{.Title{{end}}`)},
		"templates/nothing.html": {Data: []byte(`{{define "other"}}x{{end}}`)},
	}
	var a, b *FlowTemplate
	if err := ParseFlowTemplates(fsys, nil, []string{"part.html"}, map[string]**FlowTemplate{"a.html": &a, "b.html": &b}); err != nil {
		t.Fatal(err)
	}
	for want, ft := range map[string]*FlowTemplate{"A [T]": a, "B [T]": b} {
		var out bytes.Buffer
		if ft == nil {
			t.Fatalf("%q: template not set", want)
		}
		if err := ft.t.ExecuteTemplate(&out, "content", FlowPage{view: view{Title: "T"}}); err != nil || out.String() != want {
			t.Errorf("content = %q (%v), want %q", out.String(), err, want)
		}
	}
	for file, want := range map[string]string{
		"broken.html":  "template broken.html: ",
		"nothing.html": `template nothing.html: flow template: no "content" template defined`,
		"absent.html":  "template absent.html: ",
	} {
		var dst *FlowTemplate
		err := ParseFlowTemplates(fsys, nil, []string{"part.html"}, map[string]**FlowTemplate{"a.html": &a, file: &dst})
		if err == nil || !strings.HasPrefix(err.Error(), want) || dst != nil {
			t.Errorf("%s: err = %v, want it to start with %q, and no template", file, err, want)
		}
	}
}

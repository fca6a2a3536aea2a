package notify

import (
	"io"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	_ "time/tzdata" // Europe/Paris on hosts without system time zones
)

// sampleData is data for every template: each key any template reads.
func sampleData() map[string]string {
	return map[string]string{
		"link":         "https://id.univ-test.example/activate?t=Zm9vYmFyYmF6",
		"expires_at":   "2026-03-30T21:59:00Z",
		"changed_at":   "2026-04-01T08:15:00Z",
		"login":        "camille.martin",
		"merged_login": "cam.martin97",
		"org":          "CPTS Sud",
		"subject":      "Réunion du 12 mai",
		"body":         "Bonjour à tous,\nla réunion aura lieu salle 3.",
	}
}

// wantKeys is what each template reads: callers rely on it (docs/mail.md).
var wantKeys = map[string][]string{
	TemplateEmailVerification:    {"expires_at", "link"},
	TemplateActivation:           {"expires_at", "link", "login"},
	TemplateActivationResend:     {"expires_at", "link", "login"},
	TemplatePasswordChanged:      {"changed_at", "login"},
	TemplateMergeDone:            {"login", "merged_login"},
	TemplateRegistrationReceived: {"org"},
	TemplateMemberValidated:      {"link", "org"},
	TemplateOrgMessage:           {"body", "org", "subject"},
}

func testRenderer(t *testing.T) *renderer {
	t.Helper()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRenderer("Université de Test", paris)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestTemplates renders every template in both languages: each reads the
// same data keys in both, with every value showing in the text part and
// the subject free of line breaks.
func TestTemplates(t *testing.T) {
	r := testRenderer(t)
	if got := r.locales(); !slices.Equal(got, []string{"en", "fr"}) {
		t.Fatalf("locales = %v, want en and fr", got)
	}
	for _, locale := range r.locales() {
		if len(r.mails[locale]) != len(wantKeys) {
			t.Errorf("%s has %d templates, want %d", locale, len(r.mails[locale]), len(wantKeys))
		}
	}
	for name, keys := range wantKeys {
		for _, locale := range []string{"fr", "en"} {
			t.Run(locale+"/"+name, func(t *testing.T) {
				tpl, err := r.template(locale, name)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(tpl.keys, keys) {
					t.Fatalf("reads %v, want %v", tpl.keys, keys)
				}
				data := map[string]string{}
				for _, k := range keys {
					data[k] = sampleData()[k]
				}
				out, err := r.render(locale, name, data)
				if err != nil {
					t.Fatal(err)
				}
				if out.Subject == "" || strings.ContainsAny(out.Subject, "\r\n{}") {
					t.Errorf("subject %q", out.Subject)
				}
				if !strings.Contains(out.Text, "Université de Test") || !strings.Contains(out.HTML, "Université de Test") {
					t.Errorf("the site name is missing:\n%s\n%s", out.Text, out.HTML)
				}
				if !strings.Contains(out.HTML, `<html lang="`+locale+`">`) {
					t.Errorf("html part not in %s:\n%s", locale, out.HTML)
				}
				for _, k := range keys {
					v := data[k]
					if strings.HasSuffix(k, "_at") {
						continue // written as a date, checked below
					}
					if k == "body" {
						v = "la réunion aura lieu salle 3."
					}
					if !strings.Contains(out.Text+out.Subject, v) {
						t.Errorf("%s = %q does not show in the text part:\n%s", k, v, out.Text)
					}
				}
				if data["link"] != "" && !strings.Contains(out.HTML, `href="`+data["link"]+`"`) {
					t.Errorf("the html part has no link to %s:\n%s", data["link"], out.HTML)
				}
				// A missing key is an error, in render and in each part
				// itself (missingkey=error).
				delete(data, keys[0])
				if _, err := r.render(locale, name, data); err == nil {
					t.Errorf("rendered without %s", keys[0])
				}
				none := map[string]string{}
				if tpl.subject.Execute(io.Discard, none) == nil && tpl.text.ExecuteTemplate(io.Discard, "layout", none) == nil &&
					tpl.html.ExecuteTemplate(io.Discard, "layout", none) == nil {
					t.Errorf("the parts render without data")
				}
				if err := tpl.text.ExecuteTemplate(io.Discard, "layout", none); err == nil || !strings.Contains(err.Error(), "no entry") {
					t.Errorf("text part without data: %v, want a missing key", err)
				}
			})
		}
	}
}

func TestTemplateDates(t *testing.T) {
	r := testRenderer(t)
	data := sampleData()
	data["expires_at"] = "2026-03-31T21:59:00Z" // 23:59 in Paris (summer time)
	fr, err := r.render("fr", TemplateActivation, data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fr.Text, "valable jusqu'au mardi 31 mars 2026 à 23:59") {
		t.Errorf("fr date:\n%s", fr.Text)
	}
	en, err := r.render("en", TemplateActivation, data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(en.Text, "valid until Tuesday 31 March 2026 at 23:59") {
		t.Errorf("en date:\n%s", en.Text)
	}
	data["changed_at"] = "2026-04-01T08:15:00+02:00"
	pw, err := r.render("fr", TemplatePasswordChanged, data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pw.Text, "le mercredi 1er avril 2026 à 08:15") {
		t.Errorf("fr first of the month:\n%s", pw.Text)
	}
	data["expires_at"] = "tomorrow"
	if _, err := r.render("fr", TemplateActivation, data); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
		t.Errorf("a date that is not RFC 3339: %v", err)
	}
}

// TestOrgMessageEscaped: an administrator's subject and body are text: no
// header injection, no markup in the HTML part.
func TestOrgMessageEscaped(t *testing.T) {
	r := testRenderer(t)
	out, err := r.render("fr", TemplateOrgMessage, map[string]string{
		"org":     "CPTS <Sud>",
		"subject": "Urgent\r\nBcc: everyone@example.org",
		"body":    "<script>alert(1)</script>\n<a href=\"https://evil.example\">clic</a>",
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Subject != "[CPTS <Sud>] Urgent Bcc: everyone@example.org" {
		t.Errorf("subject = %q, want one line", out.Subject)
	}
	if strings.Contains(out.HTML, "<script>") || strings.Contains(out.HTML, `<a href="https://evil.example"`) ||
		!strings.Contains(out.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(out.HTML, "CPTS &lt;Sud&gt;") {
		t.Errorf("html part not escaped:\n%s", out.HTML)
	}
	if !strings.Contains(out.Text, "<script>alert(1)</script>") {
		t.Errorf("text part altered:\n%s", out.Text)
	}
}

func TestLocales(t *testing.T) {
	r := testRenderer(t)
	for in, want := range map[string]string{"": "fr", "fr": "fr", "FR-fr": "fr", "en": "en", "en-GB": "en", "en_US": "en"} {
		if got, err := r.locale(in); err != nil || got != want {
			t.Errorf("locale(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"de", "english", "e"} {
		if _, err := r.locale(bad); err == nil {
			t.Errorf("locale(%q) accepted", bad)
		}
	}
}

// TestTemplatesMustAgree: a locale whose template reads other keys than
// the default one's, or lacks one, is refused at start.
func TestTemplatesMustAgree(t *testing.T) {
	base := fstest.MapFS{
		"fr/layout.txt":  {Data: []byte(`{{template "content" .}}`)},
		"fr/layout.html": {Data: []byte(`<p>{{template "content" .}}</p>`)},
		"fr/a.subject":   {Data: []byte(`A`)},
		"fr/a.txt":       {Data: []byte(`{{.link}}`)},
		"fr/a.html":      {Data: []byte(`{{.link}}`)},
		"en/layout.txt":  {Data: []byte(`{{template "content" .}}`)},
		"en/layout.html": {Data: []byte(`<p>{{template "content" .}}</p>`)},
		"en/a.subject":   {Data: []byte(`A`)},
		"en/a.txt":       {Data: []byte(`{{.link}}`)},
		"en/a.html":      {Data: []byte(`{{.link}}`)},
	}
	if _, err := parseTemplates(base, "x", time.UTC); err != nil {
		t.Fatalf("agreeing templates: %v", err)
	}
	other := fstest.MapFS{}
	for k, v := range base {
		other[k] = v
	}
	other["en/a.html"] = &fstest.MapFile{Data: []byte(`{{.link}} {{.login}}`)}
	if _, err := parseTemplates(other, "x", time.UTC); err == nil || !strings.Contains(err.Error(), "reads") {
		t.Errorf("templates reading other keys: %v", err)
	}
	delete(other, "en/a.html")
	delete(other, "en/a.txt")
	delete(other, "en/a.subject")
	if _, err := parseTemplates(other, "x", time.UTC); err == nil {
		t.Error("a locale missing a template was accepted")
	}
}

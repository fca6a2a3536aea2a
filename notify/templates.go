package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"slices"
	"strings"
	texttemplate "text/template"
	"text/template/parse"
	"time"
)

// Templates of the mails canonid sends, with the data keys each reads.
// Values of keys ending in _at are times in RFC 3339; the templates write
// them in the reader's language and the configured time zone.
const (
	// TemplateEmailVerification: link, expires_at. Confirms an address
	// added to an account (its link opens the page that verifies it).
	TemplateEmailVerification = "email_verification"
	// TemplateActivation: login, link, expires_at. An account created for
	// the person (HR, an agency import) waits to be activated.
	TemplateActivation = "activation"
	// TemplateActivationResend: login, link, expires_at. A new activation
	// link, asked for from the login page.
	TemplateActivationResend = "activation_resend"
	// TemplatePasswordChanged: login, changed_at.
	TemplatePasswordChanged = "password_changed"
	// TemplateMergeDone: login (the account kept), merged_login (the
	// account merged into it: its login, or its address without one).
	TemplateMergeDone = "merge_done"
	// TemplateRegistrationReceived: org. A self-registration waits for a
	// coordinator of the org.
	TemplateRegistrationReceived = "registration_received"
	// TemplateMemberValidated: org, link (the login page).
	TemplateMemberValidated = "member_validated"
	// TemplateOrgMessage: org, subject, body. A message an org's
	// administrator writes to members; subject and body are text, escaped
	// in the HTML part.
	TemplateOrgMessage = "org_message"
)

// DefaultLocale is the language of a Message that names none.
const DefaultLocale = "fr"

//go:embed templates
var templateFiles embed.FS

// renderer holds the parsed templates: for each locale (a directory of
// templates/), a layout.txt and layout.html wrapping every template's
// NAME.txt and NAME.html, and its NAME.subject.
type renderer struct {
	site  string
	loc   *time.Location
	mails map[string]map[string]*mailTemplate // locale -> name -> template
}

type mailTemplate struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
	// keys are the data keys the three parts read, sorted.
	keys []string
}

// rendered is a mail's content, before it becomes a message.
type rendered struct {
	Subject, Text, HTML string
}

func newRenderer(site string, loc *time.Location) (*renderer, error) {
	root, err := fs.Sub(templateFiles, "templates")
	if err != nil {
		return nil, err
	}
	return parseTemplates(root, site, loc)
}

// parseTemplates reads the templates of fsys. Every locale must have the
// same templates, each reading the same data keys.
func parseTemplates(fsys fs.FS, site string, loc *time.Location) (*renderer, error) {
	r := &renderer{site: site, loc: loc, mails: map[string]map[string]*mailTemplate{}}
	dirs, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		set, err := r.parseLocale(fsys, d.Name())
		if err != nil {
			return nil, fmt.Errorf("templates %s: %w", d.Name(), err)
		}
		r.mails[d.Name()] = set
	}
	ref, ok := r.mails[DefaultLocale]
	if !ok {
		return nil, fmt.Errorf("templates: no %s templates", DefaultLocale)
	}
	for locale, set := range r.mails {
		for name, t := range ref {
			o, ok := set[name]
			switch {
			case !ok:
				return nil, fmt.Errorf("templates: %s has no %s template", locale, name)
			case !slices.Equal(o.keys, t.keys):
				return nil, fmt.Errorf("templates: %s/%s reads %v, %s/%s reads %v", locale, name, o.keys, DefaultLocale, name, t.keys)
			}
		}
		if len(set) != len(ref) {
			return nil, fmt.Errorf("templates: %s has templates %s has not", locale, DefaultLocale)
		}
	}
	return r, nil
}

func (r *renderer) parseLocale(fsys fs.FS, locale string) (map[string]*mailTemplate, error) {
	read := func(name string) (string, error) {
		b, err := fs.ReadFile(fsys, path.Join(locale, name))
		return string(b), err
	}
	funcs := r.funcs(locale)
	layoutText, err := read("layout.txt")
	if err != nil {
		return nil, err
	}
	textBase, err := texttemplate.New("layout").Option("missingkey=error").Funcs(funcs).Parse(layoutText)
	if err != nil {
		return nil, err
	}
	layoutHTML, err := read("layout.html")
	if err != nil {
		return nil, err
	}
	htmlBase, err := htmltemplate.New("layout").Option("missingkey=error").Funcs(funcs).Parse(layoutHTML)
	if err != nil {
		return nil, err
	}
	subjects, err := fs.Glob(fsys, path.Join(locale, "*.subject"))
	if err != nil {
		return nil, err
	}
	set := map[string]*mailTemplate{}
	for _, file := range subjects {
		name := strings.TrimSuffix(path.Base(file), ".subject")
		var t mailTemplate
		var parts [3]string
		for i, ext := range []string{".subject", ".txt", ".html"} {
			if parts[i], err = read(name + ext); err != nil {
				return nil, err
			}
		}
		if t.subject, err = texttemplate.New(name).Option("missingkey=error").Funcs(funcs).Parse(parts[0]); err != nil {
			return nil, err
		}
		if t.text, err = textBase.Clone(); err != nil {
			return nil, err
		}
		if _, err = t.text.New("content").Parse(parts[1]); err != nil {
			return nil, fmt.Errorf("%s.txt: %w", name, err)
		}
		if t.html, err = htmlBase.Clone(); err != nil {
			return nil, err
		}
		if _, err = t.html.New("content").Parse(parts[2]); err != nil {
			return nil, fmt.Errorf("%s.html: %w", name, err)
		}
		keys := map[string]bool{}
		for _, tt := range t.subject.Templates() {
			fieldNames(tt.Tree.Root, keys)
		}
		for _, tt := range t.text.Templates() {
			fieldNames(tt.Tree.Root, keys)
		}
		for _, tt := range t.html.Templates() {
			fieldNames(tt.Tree.Root, keys)
		}
		for k := range keys {
			t.keys = append(t.keys, k)
		}
		slices.Sort(t.keys)
		set[name] = &t
	}
	if len(set) == 0 {
		return nil, errors.New("no templates")
	}
	return set, nil
}

// fieldNames adds to keys the fields of dot a template reads ({{.link}}).
func fieldNames(n parse.Node, keys map[string]bool) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			fieldNames(c, keys)
		}
	case *parse.ActionNode:
		fieldNames(n.Pipe, keys)
	case *parse.IfNode:
		fieldNames(n.Pipe, keys)
		fieldNames(n.List, keys)
		fieldNames(n.ElseList, keys)
	case *parse.RangeNode:
		fieldNames(n.Pipe, keys)
		fieldNames(n.List, keys)
		fieldNames(n.ElseList, keys)
	case *parse.WithNode:
		fieldNames(n.Pipe, keys)
		fieldNames(n.List, keys)
		fieldNames(n.ElseList, keys)
	case *parse.TemplateNode:
		fieldNames(n.Pipe, keys)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			fieldNames(c, keys)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			fieldNames(a, keys)
		}
	case *parse.FieldNode:
		keys[n.Ident[0]] = true
	}
}

// funcs are the functions the templates of a locale call: site, the
// service's name, and date, an RFC 3339 time written for the reader.
func (r *renderer) funcs(locale string) texttemplate.FuncMap {
	return texttemplate.FuncMap{
		"site": func() string { return r.site },
		"date": func(v string) (string, error) {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return "", fmt.Errorf("date %q: want RFC 3339 (2006-01-02T15:04:05Z07:00)", v)
			}
			return formatDate(t.In(r.loc), locale), nil
		},
	}
}

// formatDate writes t as a reader of the locale expects: "lundi 30 mars 2026
// à 23:59", "Monday 30 March 2026 at 23:59".
func formatDate(t time.Time, locale string) string {
	if locale != "fr" {
		return t.Format("Monday 2 January 2006 at 15:04")
	}
	days := [...]string{"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"}
	months := [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
		"octobre", "novembre", "décembre"}
	day := fmt.Sprint(t.Day())
	if t.Day() == 1 {
		day = "1er"
	}
	return fmt.Sprintf("%s %s %s %d à %s", days[t.Weekday()], day, months[t.Month()-1], t.Year(), t.Format("15:04"))
}

// locale returns the locale of l ("" for the default, "en-GB" for en), or
// an error if canonid has no templates in its language.
func (r *renderer) locale(l string) (string, error) {
	if l == "" {
		return DefaultLocale, nil
	}
	base, _, _ := strings.Cut(strings.ToLower(strings.ReplaceAll(l, "_", "-")), "-")
	if _, ok := r.mails[base]; !ok {
		return "", fmt.Errorf("locale %q: mails are written in %s", l, strings.Join(r.locales(), " and "))
	}
	return base, nil
}

func (r *renderer) locales() []string {
	var out []string
	for l := range r.mails {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// template returns the template of a locale returned by locale.
func (r *renderer) template(locale, name string) (*mailTemplate, error) {
	t, ok := r.mails[locale][name]
	if !ok {
		return nil, fmt.Errorf("unknown mail template %q", name)
	}
	return t, nil
}

// render renders the template in the locale with data: every key the
// template reads must be given.
func (r *renderer) render(locale, name string, data map[string]string) (rendered, error) {
	var out rendered
	t, err := r.template(locale, name)
	if err != nil {
		return out, err
	}
	var missing []string
	for _, k := range t.keys {
		if _, ok := data[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return out, fmt.Errorf("mail %s: missing data %s", name, strings.Join(missing, ", "))
	}
	if data == nil {
		data = map[string]string{}
	}
	var b bytes.Buffer
	if err := t.subject.Execute(&b, data); err != nil {
		return out, fmt.Errorf("mail %s subject: %w", name, err)
	}
	// One line, whatever the data held: a line break would start a header.
	out.Subject = strings.Join(strings.Fields(b.String()), " ")
	b.Reset()
	if err := t.text.ExecuteTemplate(&b, "layout", data); err != nil {
		return out, fmt.Errorf("mail %s text: %w", name, err)
	}
	out.Text = strings.TrimSpace(b.String()) + "\n"
	b.Reset()
	if err := t.html.ExecuteTemplate(&b, "layout", data); err != nil {
		return out, fmt.Errorf("mail %s html: %w", name, err)
	}
	out.HTML = b.String()
	return out, nil
}

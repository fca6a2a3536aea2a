package registration

import (
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/canonid/canonid/web"
)

// The pages' own content, drawn in the login pages' layout, and their
// messages in French and English.
//
//go:embed templates/*.html
var templateFS embed.FS

//go:embed locales/*.json
var localeFS embed.FS

type templates struct {
	form, confirm, message, console *web.FlowTemplate
}

func parseTemplates() (templates, error) {
	var t templates
	for _, p := range []struct {
		dst  **web.FlowTemplate
		name string
	}{{&t.form, "form.html"}, {&t.confirm, "confirm.html"}, {&t.message, "message.html"}, {&t.console, "console.html"}} {
		ft, err := web.ParseFlowTemplate(templateFS, nil, "templates/"+p.name)
		if err != nil {
			return templates{}, fmt.Errorf("registration: template %s: %w", p.name, err)
		}
		*p.dst = ft
	}
	return t, nil
}

// catalog holds the messages by language ("fr", "en") and key: fmt formats.
type catalog map[string]map[string]string

// loadCatalog reads the embedded catalogs; both must have the same keys.
func loadCatalog() (catalog, error) {
	c := catalog{}
	for _, lang := range []string{"fr", "en"} {
		b, err := localeFS.ReadFile("locales/" + lang + ".json")
		if err != nil {
			return nil, err
		}
		var msgs map[string]string
		if err := json.Unmarshal(b, &msgs); err != nil {
			return nil, fmt.Errorf("registration: catalog %s: %w", lang, err)
		}
		c[lang] = msgs
	}
	if fr, en := slices.Sorted(maps.Keys(c["fr"])), slices.Sorted(maps.Keys(c["en"])); !slices.Equal(fr, en) {
		return nil, fmt.Errorf("registration: the fr and en catalogs have different keys")
	}
	return c, nil
}

// T returns the message of key in lang (French when lang is unknown),
// formatted with args. A missing key shows as itself.
func (c catalog) T(lang, key string, args ...any) string {
	msgs, ok := c[lang]
	if !ok {
		msgs = c["fr"]
	}
	m, ok := msgs[key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return m
	}
	return fmt.Sprintf(m, args...)
}

// Data of the templates.

type pageLink struct {
	Href, Label string
}

type messageData struct {
	Paragraphs []string
	Links      []pageLink
}

type phoneData struct {
	Title, Intro, Action, Send, CodeLabel, Verify string
}

type confirmData struct {
	Error      string
	Notice     string
	Phone      *phoneData
	Paragraphs []string
	Fields     []formField
	Action     string
	Token      string
	Button     string
}

type hiddenField struct {
	Name, Value string
}

type formField struct {
	Type, Name, Value, Label string
	Required                 bool
	Autocomplete             string
}

type formData struct {
	Error      string
	Paragraphs []string
	Action     string
	Hidden     []hiddenField
	Fields     []formField
	Button     string
}

package emailmerge

import (
	"embed"
	"fmt"

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
	confirm, preview, message *web.FlowTemplate
}

func parseTemplates() (templates, error) {
	var t templates
	err := web.ParseFlowTemplates(templateFS, nil, nil, map[string]**web.FlowTemplate{
		"confirm.html": &t.confirm, "preview.html": &t.preview, "message.html": &t.message,
	})
	if err != nil {
		return templates{}, fmt.Errorf("emailmerge: %w", err)
	}
	return t, nil
}

// catalog holds the messages by language ("fr", "en") and key.
type catalog struct{ web.Catalog }

// loadCatalog reads the embedded catalogs; both must have the same keys.
func loadCatalog() (catalog, error) {
	c, err := web.LoadCatalog(localeFS, "emailmerge")
	return catalog{c}, err
}

// field names a canonical field; attributes without a label show as their
// key.
func (c catalog) field(lang, name string) string {
	if m := c.T(lang, "field."+name); m != "field."+name {
		return m
	}
	return name
}

// Data of the templates.

type confirmData struct {
	Paragraphs []string
	Action     string
	Token      string
	Button     string
}

type pageLink struct {
	Href, Label string
}

type messageData struct {
	Paragraphs []string
	Links      []pageLink
}

type previewRow struct {
	Field, Yours, Other, Kept string
}

type previewData struct {
	Lead, Explain string
	Fields        []string
	Rows          []previewRow
	MovesTitle    string
	Moves         []string
	Action, Token string
	Button, Note  string
}

package registration

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
	form, confirm, message, console *web.FlowTemplate
}

func parseTemplates() (templates, error) {
	var t templates
	err := web.ParseFlowTemplates(templateFS, nil, nil, map[string]**web.FlowTemplate{
		"form.html": &t.form, "confirm.html": &t.confirm, "message.html": &t.message, "console.html": &t.console,
	})
	if err != nil {
		return templates{}, fmt.Errorf("registration: %w", err)
	}
	return t, nil
}

// catalog holds the messages by language ("fr", "en") and key.
type catalog struct{ web.Catalog }

// loadCatalog reads the embedded catalogs; both must have the same keys.
func loadCatalog() (catalog, error) {
	c, err := web.LoadCatalog(localeFS, "registration")
	return catalog{c}, err
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

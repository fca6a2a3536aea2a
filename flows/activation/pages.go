package activation

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
	step, message *web.FlowTemplate
}

func parseTemplates() (templates, error) {
	var t templates
	err := web.ParseFlowTemplates(templateFS, nil, nil, map[string]**web.FlowTemplate{"step.html": &t.step, "message.html": &t.message})
	if err != nil {
		return templates{}, fmt.Errorf("activation: %w", err)
	}
	return t, nil
}

// catalog holds the messages by language ("fr", "en") and key.
type catalog struct{ web.Catalog }

// loadCatalog reads the embedded catalogs; both must have the same keys.
func loadCatalog() (catalog, error) {
	c, err := web.LoadCatalog(localeFS, "activation")
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

type hiddenField struct {
	Name, Value string
}

type formField struct {
	Type, Name, Value, Label string
	Checked, Required        bool
	Autocomplete             string
	MinLength                int
}

type stepData struct {
	Progress    string
	Error       string
	Paragraphs  []string
	Charter     string
	CharterLink *pageLink
	Action      string
	Hidden      []hiddenField
	Fields      []formField
	Button      string
	Links       []pageLink
}

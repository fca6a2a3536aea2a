package admin

import (
	"embed"
	"errors"
	"fmt"
	"html/template"

	"github.com/canonid/canonid/web"
)

// The console's pages, drawn in the login pages' layout, and their messages
// in French and English.
//
//go:embed templates/*.html
var templateFS embed.FS

//go:embed locales/*.json
var localeFS embed.FS

// templates are the console's pages, each with the shared partials of
// templates/partials.html.
type templates struct {
	message, accounts, account, merges, duplicates, preview, imports, report, connectors, dryRun, propagation, audit *web.FlowTemplate
}

func parseTemplates() (templates, error) {
	var t templates
	err := web.ParseFlowTemplates(templateFS, templateFuncs(), []string{"partials.html"}, map[string]**web.FlowTemplate{
		"message.html": &t.message, "accounts.html": &t.accounts, "account.html": &t.account,
		"merges.html": &t.merges, "duplicates.html": &t.duplicates, "preview.html": &t.preview,
		"imports.html": &t.imports, "report.html": &t.report, "connectors.html": &t.connectors,
		"dryrun.html": &t.dryRun, "propagation.html": &t.propagation, "audit.html": &t.audit,
	})
	if err != nil {
		return templates{}, fmt.Errorf("admin: %w", err)
	}
	return t, nil
}

// funcs are the templates' helpers: dict hands a partial several values
// (name, value pairs), sub subtracts.
func templateFuncs() template.FuncMap {
	return template.FuncMap{"dict": dict, "sub": func(a, b int) int { return a - b }}
}

func dict(pairs ...any) (map[string]any, error) {
	if len(pairs)%2 != 0 {
		return nil, errors.New("dict: odd number of arguments")
	}
	m := make(map[string]any, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		k, ok := pairs[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", pairs[i])
		}
		m[k] = pairs[i+1]
	}
	return m, nil
}

// catalog holds the messages by language ("fr", "en") and key.
type catalog struct{ web.Catalog }

// loadCatalog reads the embedded catalogs; both must have the same keys.
func loadCatalog() (catalog, error) {
	c, err := web.LoadCatalog(localeFS, "admin")
	return catalog{c}, err
}

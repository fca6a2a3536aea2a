package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/text/language"
)

// The message catalogs, one JSON object per language: key -> message, a
// fmt format when the page passes arguments.
//
//go:embed locales/*.json
var localeFS embed.FS

// Languages of the pages, the default first.
var languages = []language.Tag{language.French, language.English}

// langCookie keeps the language the person chose with the switch link.
const (
	langCookie = "canonid_lang"
	langParam  = "lang"
)

// locale is one language's catalog.
type locale struct {
	Tag  string // "fr", "en"
	msgs map[string]string
}

// T returns the message of key, formatted with args when given. A missing
// key shows as itself (the tests check that both catalogs have every key).
func (l locale) T(key string, args ...any) string {
	m, ok := l.msgs[key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return m
	}
	return fmt.Sprintf(m, args...)
}

// catalogs holds the locales and chooses one per request.
type catalogs struct {
	byTag   map[string]locale
	matcher language.Matcher
}

// loadCatalogs reads the embedded catalogs.
func loadCatalogs() (*catalogs, error) {
	c := &catalogs{byTag: map[string]locale{}, matcher: language.NewMatcher(languages)}
	for _, tag := range languages {
		b, err := localeFS.ReadFile("locales/" + tag.String() + ".json")
		if err != nil {
			return nil, fmt.Errorf("catalog %s: %w", tag, err)
		}
		var msgs map[string]string
		if err := json.Unmarshal(b, &msgs); err != nil {
			return nil, fmt.Errorf("catalog %s: %w", tag, err)
		}
		c.byTag[tag.String()] = locale{Tag: tag.String(), msgs: msgs}
	}
	return c, nil
}

// get returns the locale of a supported tag ("fr", "en").
func (c *catalogs) get(tag string) (locale, bool) {
	l, ok := c.byTag[tag]
	return l, ok
}

// fallback is the default locale (French).
func (c *catalogs) fallback() locale { return c.byTag[languages[0].String()] }

// choose picks the language of a page: the one the person chose with the
// switch link (the lang parameter, then its cookie), else the client's
// ui_locales, else the browser's Accept-Language, else French.
func (c *catalogs) choose(r *http.Request, uiLocales []string) locale {
	if l, ok := c.get(r.URL.Query().Get(langParam)); ok {
		return l
	}
	if ck, err := r.Cookie(langCookie); err == nil {
		if l, ok := c.get(ck.Value); ok {
			return l
		}
	}
	if l, ok := c.match(uiLocales); ok {
		return l
	}
	if tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language")); err == nil && len(tags) > 0 {
		if l, ok := c.matchTags(tags); ok {
			return l
		}
	}
	return c.fallback()
}

// match matches BCP 47 language tags, best first.
func (c *catalogs) match(prefs []string) (locale, bool) {
	var tags []language.Tag
	for _, p := range prefs {
		if t, err := language.Parse(strings.TrimSpace(p)); err == nil {
			tags = append(tags, t)
		}
	}
	return c.matchTags(tags)
}

func (c *catalogs) matchTags(tags []language.Tag) (locale, bool) {
	if len(tags) == 0 {
		return locale{}, false
	}
	_, i, conf := c.matcher.Match(tags...)
	if conf == language.No {
		return locale{}, false
	}
	return c.byTag[languages[i].String()], true
}

// other returns the locale the switch link offers: the first supported
// language that is not l.
func (c *catalogs) other(l locale) locale {
	i := slices.IndexFunc(languages, func(t language.Tag) bool { return t.String() != l.Tag })
	return c.byTag[languages[i].String()]
}

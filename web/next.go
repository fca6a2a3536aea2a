package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// Returning after the login: a page that needs a login session (the
// account pages, the coordinators' console) sends the browser to
// PathLogin?next=<its path>; once logged in, the person goes back there.
// Only a path of this site is followed, so that the parameter never makes
// the login page an open redirect.

// ParamNext is the query parameter of the login page, and the field of its
// form, that names where to go after logging in: a path of this site.
const ParamNext = "next"

// maxNext bounds the length of a return path.
const maxNext = 1024

// ctxNext holds, in the Gin context, the return path of a login through
// an upstream provider (kept in its sealed cookie, not in the callback's
// URL).
const ctxNext = "web.next"

// LocalPath returns p when the login page may send a browser there: a path
// of this site, with its query — it starts with "/" but not with "//" or
// "/\" (which browsers read as another site), has no backslash, no space
// and no control character (browsers drop tabs and line breaks, so that
// "/\t/evil.example" is "//evil.example" to them), no scheme nor host, and
// at most 1024 bytes. Otherwise "".
func LocalPath(p string) string {
	if p == "" || len(p) > maxNext || p[0] != '/' || strings.HasPrefix(p, "//") {
		return ""
	}
	for i := 0; i < len(p); i++ {
		if b := p[i]; b <= ' ' || b == 0x7f || b == '\\' {
			return ""
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return ""
	}
	return p
}

// WithNext returns the login page at loginPath (PathLogin, or a configured
// login_path) with next as its return path; loginPath alone when next is
// not a LocalPath.
func WithNext(loginPath, next string) string {
	next = LocalPath(next)
	if next == "" {
		return loginPath
	}
	sep := "?"
	if strings.Contains(loginPath, "?") {
		sep = "&"
	}
	return loginPath + sep + url.Values{ParamNext: {next}}.Encode()
}

// LoginURL returns the login page that leads back to next: WithNext of
// PathLogin.
func LoginURL(next string) string { return WithNext(PathLogin, next) }

// nextOf returns the return path of this request, "" when there is none or
// it is not a LocalPath: the one of an upstream login (its cookie), else
// the form's field for a POST, else the query parameter.
func nextOf(c *gin.Context) string {
	if v, ok := c.Get(ctxNext); ok {
		s, _ := v.(string)
		return LocalPath(s)
	}
	if c.Request.Method == http.MethodPost {
		return LocalPath(c.PostForm(ParamNext))
	}
	return LocalPath(c.Query(ParamNext))
}

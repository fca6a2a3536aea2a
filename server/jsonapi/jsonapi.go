// Package jsonapi holds the small pieces every JSON API handler of canonid
// answers with: strict body decoding, the {"error": "..."} answer, the 429
// with Retry-After, and the language of the mails a request asks for.
package jsonapi

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/text/language"
)

// Error answers status with {"error": msg} and stops the handler chain.
func Error(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, gin.H{"error": msg})
}

// Decode reads the request body, at most limit bytes, strictly into v (an
// unknown field is an error); on error it answers 400 naming the problem
// and returns false.
func Decode(c *gin.Context, v any, limit int64) bool {
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		Error(c, http.StatusBadRequest, "request body: "+err.Error())
		return false
	}
	return true
}

// DecodeTyped is Decode for a body that must also say it is JSON: another
// Content-Type answers 415.
func DecodeTyped(c *gin.Context, v any, limit int64) bool {
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/json" {
		Error(c, http.StatusUnsupportedMediaType, "the request body must be application/json")
		return false
	}
	return Decode(c, v, limit)
}

// RetryAfter is a wait as the Retry-After header gives it: whole seconds,
// rounded up, at least 1.
func RetryAfter(wait time.Duration) string {
	s := int64((wait.Round(time.Millisecond) + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(s, 1), 10)
}

// RateLimited answers 429 with Retry-After.
func RateLimited(c *gin.Context, wait time.Duration) {
	c.Header("Retry-After", RetryAfter(wait))
	Error(c, http.StatusTooManyRequests, "too many attempts, try again later")
}

// mailLanguages are the languages of the mails, the default first.
var mailLanguages = language.NewMatcher([]language.Tag{language.French, language.English})

// Locale returns the language of the mails a request asks for: given ("fr"
// or "en"), else AcceptLanguage. Another value answers 400 and false.
func Locale(c *gin.Context, given string) (string, bool) {
	switch given {
	case "fr", "en":
		return given, true
	case "":
		return AcceptLanguage(c.Request), true
	}
	Error(c, http.StatusBadRequest, "locale: fr or en")
	return "", false
}

// AcceptLanguage returns the language of the mails r's Accept-Language
// prefers: "en" or, by default, "fr".
func AcceptLanguage(r *http.Request) string {
	tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err != nil || len(tags) == 0 {
		return "fr"
	}
	if _, i, conf := mailLanguages.Match(tags...); conf != language.No && i == 1 {
		return "en"
	}
	return "fr"
}

package flowstest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/server"
)

// WantPublicRoutes checks a flow's public routes of the JSON API: those
// of engine whose path under server.APIPrefix starts with prefix. The
// server's openapi.json (from apiURL) describes each of them as public
// ("security": []) and none that is not served, and none asks for a token
// (post, which posts an empty JSON object to a path, is not answered 401).
// It returns how many routes there are.
func WantPublicRoutes(t *testing.T, apiURL string, engine *gin.Engine, prefix string,
	post func(path string) (status int, body string)) int {
	t.Helper()
	res, err := http.Get(apiURL + server.APIPrefix + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc struct {
		Paths map[string]map[string]struct {
			Security *[]map[string][]string `json:"security"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	routes := 0
	served := map[string]bool{}
	for _, r := range engine.Routes() {
		path, ok := strings.CutPrefix(r.Path, server.APIPrefix)
		if !ok || !strings.HasPrefix(path, prefix) {
			continue
		}
		routes++
		served[strings.ToLower(r.Method)+" "+path] = true
		op, ok := doc.Paths[path][strings.ToLower(r.Method)]
		if !ok {
			t.Errorf("%s %s is served but not described in openapi.json", r.Method, r.Path)
			continue
		}
		if op.Security == nil || len(*op.Security) != 0 {
			t.Errorf("%s %s: openapi.json does not say it is public (\"security\": [])", r.Method, r.Path)
		}
		if status, body := post(path); status == http.StatusUnauthorized {
			t.Errorf("%s %s asks for a token: %s", r.Method, r.Path, body)
		}
	}
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, prefix) {
			continue
		}
		for method := range ops {
			if !served[method+" "+path] {
				t.Errorf("openapi.json describes %s %s, which is not served", method, path)
			}
		}
	}
	return routes
}

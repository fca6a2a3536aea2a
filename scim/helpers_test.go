package scim_test

import (
	"encoding/json"
	"fmt"
	"net/url"
)

func q(filter string) string { return url.QueryEscape(filter) }

// show prints a JSON value as the tests compare it.
func show(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return "<absent>"
	case float64, bool:
		return fmt.Sprint(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

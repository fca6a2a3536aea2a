package scim

import "testing"

// TestRewriteFilterLeavesLiterals: Entra's value paths are rewritten into
// the RFC's grammar, but a filter that already parses is left as it is,
// even when a string literal looks like a value path.
func TestRewriteFilterLeavesLiterals(t *testing.T) {
	for in, want := range map[string]string{
		`emails[type eq "work"].value eq "x@y.z"`:         `emails[type eq "work" and value eq "x@y.z"]`,
		`emails[type eq "work"].value pr`:                 `emails[type eq "work" and value pr]`,
		`displayName eq "x[y].z eq 1"`:                    `displayName eq "x[y].z eq 1"`,
		`userName eq "a" and displayName co "[b].c eq 2"`: `userName eq "a" and displayName co "[b].c eq 2"`,
	} {
		if got := rewriteFilter(in); got != want {
			t.Errorf("rewriteFilter(%s) = %s, want %s", in, got, want)
		}
	}
}

package mergekey

import (
	"strings"
	"testing"
	"time"
)

func TestNormaliseKey(t *testing.T) {
	const want = "7K3MQ9TD2WXAHB4E0RPZ"
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"7K3M-Q9TD-2WXA-HB4E-0RPZ", true},
		{"7k3m-q9td-2wxa-hb4e-0rpz", true},
		{"7K3MQ9TD2WXAHB4E0RPZ", true},
		{" 7K3M Q9TD 2WXA HB4E 0RPZ\n", true},
		{"7K3M-Q9TD-2WXA-HB4E-ORPZ", true}, // O read as 0
		{"7K3M--Q9TD\t2WXA-HB4E-0rpz", true},
		{"7K3M-Q9TD-2WXA-HB4E-0RP", false},   // too short
		{"7K3M-Q9TD-2WXA-HB4E-0RPZZ", false}, // too long
		{"7K3M-Q9TD-2WXA-HB4E-0RP!", false},
		{"7K3M-Q9TD-2WXA-HB4E-0RPU", false}, // U is not Crockford
		{"7K3M-Q9TD-2WXA-HB4E-0RPÉ", false},
		{"", false},
		{strings.Repeat(" ", 200) + "7K3MQ9TD2WXAHB4E0RPZ", false},
	} {
		got, ok := normaliseKey(tc.in)
		if ok != tc.ok || (ok && got != want) {
			t.Errorf("normaliseKey(%q) = %q, %v; want %v", tc.in, got, ok, tc.ok)
		}
	}
	// I and L read as 1.
	if a, _ := normaliseKey("1111-IIII-LLLL-iiii-llll"); a != strings.Repeat("1", 20) {
		t.Errorf("I, L: %q", a)
	}
}

func TestNewKey(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		k := newKey()
		if len(k) != keyChars || strings.Trim(k, alphabet) != "" {
			t.Fatalf("key %q", k)
		}
		f := formatKey(k)
		if !keyFormat.MatchString(f) {
			t.Fatalf("formatted %q", f)
		}
		if n, ok := normaliseKey(f); !ok || n != k {
			t.Fatalf("normaliseKey(formatKey(%q)) = %q, %v", k, n, ok)
		}
		if seen[k] {
			t.Fatalf("key %q twice", k)
		}
		seen[k] = true
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	err := Config{TTL: time.Second, IPLimit: Limit{Events: 0, Per: -1, Burst: 0}, AccountLimit: Limit{Events: 1, Per: time.Minute}}.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"ttl:", "ip_limit.events", "ip_limit.per", "ip_limit.burst", "account_limit.burst"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := New(Config{}, Deps{}); err == nil || !strings.Contains(err.Error(), "Store") || !strings.Contains(err.Error(), "Accounts") {
		t.Errorf("New without deps: %v", err)
	}
}

package ldap

import (
	"testing"
	"time"
)

func TestPartitionFilter(t *testing.T) {
	const f = "(objectClass=*)"
	tests := []struct {
		i, n int
		want string
	}{
		{0, 1, f},
		{0, 2, "(&(objectClass=*)(!(entryUUID>=80000000-0000-0000-0000-000000000000)))"},
		{1, 2, "(&(objectClass=*)(entryUUID>=80000000-0000-0000-0000-000000000000))"},
		{0, 4, "(&(objectClass=*)(!(entryUUID>=40000000-0000-0000-0000-000000000000)))"},
		{1, 4, "(&(objectClass=*)(entryUUID>=40000000-0000-0000-0000-000000000000)(!(entryUUID>=80000000-0000-0000-0000-000000000000)))"},
		{3, 4, "(&(objectClass=*)(entryUUID>=c0000000-0000-0000-0000-000000000000))"},
		{1, 3, "(&(objectClass=*)(entryUUID>=55555555-0000-0000-0000-000000000000)(!(entryUUID>=aaaaaaaa-0000-0000-0000-000000000000)))"},
	}
	for _, tt := range tests {
		if got := partitionFilter(f, tt.i, tt.n); got != tt.want {
			t.Errorf("partitionFilter(%d, %d) = %s, want %s", tt.i, tt.n, got, tt.want)
		}
	}
}

func TestParseGeneralizedTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "20240131235959Z", want: time.Date(2024, 1, 31, 23, 59, 59, 0, time.UTC)},
		{in: "20240131235959.25Z", want: time.Date(2024, 1, 31, 23, 59, 59, 250_000_000, time.UTC)},
		{in: "20240201005959+0100", want: time.Date(2024, 1, 31, 23, 59, 59, 0, time.UTC)},
		{in: "2024-01-31T23:59:59Z", bad: true},
		{in: "", bad: true},
	}
	for _, tt := range tests {
		got, err := parseGeneralizedTime(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("parseGeneralizedTime(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("parseGeneralizedTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if got := generalizedTime(time.Date(2024, 2, 1, 0, 59, 59, 5, time.FixedZone("CET", 3600))); got != "20240131235959Z" {
		t.Errorf("generalizedTime() = %s", got)
	}
}

package models

import (
	"encoding/base64"
	"testing"
)

func TestGlobalIDRoundTrip(t *testing.T) {
	tests := []struct {
		typ  string
		id   int64
		want string
	}{
		{TypeConversation, 1, "Q29udmVyc2F0aW9uOjE"},
		{TypeUser, 5, "VXNlcjo1"},
		{TypeProduct, 9223372036854775807, "UHJvZHVjdDo5MjIzMzcyMDM2ODU0Nzc1ODA3"},
		{TypeMessage, 42, "TWVzc2FnZTo0Mg"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got := GlobalID(tt.typ, tt.id)
			if got != tt.want {
				t.Fatalf("GlobalID(%s, %d) = %q, want %q", tt.typ, tt.id, got, tt.want)
			}
			typ, id, err := ParseGlobalID(got)
			if err != nil || typ != tt.typ || id != tt.id {
				t.Fatalf("ParseGlobalID(%q) = %s, %d, %v", got, typ, id, err)
			}
		})
	}
}

func TestParseGlobalIDRejectsOtherSpellings(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct{ name, id string }{
		{"empty", ""},
		{"not base64", "%%%"},
		{"padded", base64.URLEncoding.EncodeToString([]byte("User:55"))},
		{"no colon", enc("User5")},
		{"unknown type", enc("Session:5")},
		{"lower-case type", enc("user:5")},
		{"leading zero", enc("User:05")},
		{"plus sign", enc("User:+5")},
		{"zero", enc("User:0")},
		{"negative", enc("User:-5")},
		{"overflow", enc("User:9223372036854775808")},
		{"trailing space", enc("User:5 ")},
		{"database id", "5"},
		{"too long", enc("User:" + string(make([]byte, 100)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := ParseGlobalID(tt.id); ErrorCode(err) != EINVALID {
				t.Fatalf("ParseGlobalID(%q) error = %v, want EINVALID", tt.id, err)
			}
		})
	}
}

package models_test

import (
	"strings"
	"testing"

	"github.com/partizap/vendor-inbox/models"
)

func TestOutgoingMessageNormalize(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		name        string
		text, image *string
		key         string
		wantText    *string
		field       string // the field refused, or "" for accepted
	}{
		{"trimmed", s("  Здравствуйте \n"), nil, "k", s("Здравствуйте"), ""},
		{"CRLF becomes LF, tabs stay", s("a\r\n\tb"), nil, "k", s("a\n\tb"), ""},
		{"4,000 characters", s(strings.Repeat("я", 4000)), nil, "k", s(strings.Repeat("я", 4000)), ""},
		{"image only, empty text dropped", s("   "), s("https://img.example/a.jpg"), "k", nil, ""},
		{"64-character key", s("x"), nil, strings.Repeat("к", 64), s("x"), ""},
		{"4,001 characters", s(strings.Repeat("я", 4001)), nil, "k", nil, "text"},
		{"bell", s("a\x07"), nil, "k", nil, "text"},
		{"escape", s("\x1b[31m"), nil, "k", nil, "text"},
		{"lone CR", s("a\rb"), nil, "k", nil, "text"},
		{"invalid UTF-8", s("a\xffb"), nil, "k", nil, "text"},
		{"nothing", nil, nil, "k", nil, "text"},
		{"only spaces", s(" \n\t "), nil, "k", nil, "text"},
		{"http", s("x"), s("http://img.example/a.jpg"), "k", nil, "imageUrl"},
		{"no host", s("x"), s("https:///a.jpg"), "k", nil, "imageUrl"},
		{"credentials", s("x"), s("https://a:b@img.example/a.jpg"), "k", nil, "imageUrl"},
		{"space", s("x"), s("https://img.example/a b.jpg"), "k", nil, "imageUrl"},
		{"2,049 bytes", s("x"), s("https://img.example/" + strings.Repeat("a", 2049-20)), "k", nil, "imageUrl"},
		{"empty key", s("x"), nil, "", nil, "clientMutationId"},
		{"65-character key", s("x"), nil, strings.Repeat("k", 65), nil, "clientMutationId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := models.OutgoingMessage{ConversationID: 1, Text: tc.text, ImageURL: tc.image, ClientMutationID: tc.key}.Normalize()
			if tc.field != "" {
				e, ok := err.(*models.Error)
				if !ok || e.Code != models.EINVALID || e.Field != tc.field {
					t.Fatalf("error %v, want %s refused", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got.Text == nil) != (tc.wantText == nil) || got.Text != nil && *got.Text != *tc.wantText {
				t.Errorf("text %q, want %q", deref(got.Text), deref(tc.wantText))
			}
		})
	}
	// The longest accepted image URL is 2,048 bytes.
	long := "https://img.example/" + strings.Repeat("a", 2048-20)
	if _, err := (models.OutgoingMessage{ImageURL: &long, ClientMutationID: "k"}).Normalize(); err != nil {
		t.Errorf("a 2,048-byte URL: %v", err)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

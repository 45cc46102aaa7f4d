package rest

import (
	"context"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/partizap/vendor-inbox/models"
)

func TestParseParams(t *testing.T) {
	cursors := models.NewCursors([]byte("k"))
	key := models.InboxKey{UpdatedAt: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC), ID: 7}
	valid := cursors.Encode(key)
	tests := []struct {
		name      string
		query     string
		wantLimit int
		wantAfter *models.InboxKey
		wantCode  string // REST error code; "" when valid
	}{
		{"defaults", "", 20, nil, ""},
		{"limit 1", "limit=1", 1, nil, ""},
		{"limit 100", "limit=100", 100, nil, ""},
		{"cursor", "cursor=" + valid, 20, &key, ""},
		{"both", "limit=7&cursor=" + valid, 7, &key, ""},
		{"unknown parameters are ignored", "limit=3&utm_source=mail", 3, nil, ""},
		{"limit 0", "limit=0", 0, nil, "invalid_limit"},
		{"limit 101", "limit=101", 0, nil, "invalid_limit"},
		{"negative limit", "limit=-1", 0, nil, "invalid_limit"},
		{"plus sign", "limit=%2B5", 0, nil, "invalid_limit"},
		{"leading zero", "limit=05", 0, nil, "invalid_limit"},
		{"fraction", "limit=1.5", 0, nil, "invalid_limit"},
		{"word", "limit=ten", 0, nil, "invalid_limit"},
		{"empty limit", "limit=", 0, nil, "invalid_limit"},
		{"huge limit", "limit=99999999999999999999", 0, nil, "invalid_limit"},
		{"repeated limit", "limit=1&limit=1", 0, nil, "invalid_parameter"},
		{"repeated cursor", "cursor=" + valid + "&cursor=" + valid, 0, nil, "invalid_parameter"},
		{"malformed cursor", "cursor=abc", 0, nil, "invalid_cursor"},
		{"empty cursor", "cursor=", 0, nil, "invalid_cursor"},
		{"tampered cursor", "cursor=" + valid[:10] + "x" + valid[11:], 0, nil, "invalid_cursor"},
		{"sql in cursor", "cursor=%27%20OR%201%3D1--", 0, nil, "invalid_cursor"},
		{"broken escape", "limit=%zz", 0, nil, "invalid_query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args, err := parseParams(tt.query, cursors)
			if tt.wantCode != "" {
				e, ok := err.(*models.Error)
				if !ok || e.Code != models.EINVALID || "invalid_"+e.Field != tt.wantCode {
					t.Fatalf("parseParams(%q) error = %#v, want %s", tt.query, err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseParams(%q): %v", tt.query, err)
			}
			if args.First == nil || *args.First != tt.wantLimit || args.Last != nil || args.Before != nil {
				t.Fatalf("parseParams(%q) = %+v, want first %d", tt.query, args, tt.wantLimit)
			}
			if (args.After == nil) != (tt.wantAfter == nil) || (args.After != nil && *args.After != *tt.wantAfter) {
				t.Fatalf("parseParams(%q) after = %v, want %v", tt.query, args.After, tt.wantAfter)
			}
		})
	}
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	op := doc.Paths.Find("/vendor/conversations").Get
	for _, p := range []struct {
		name     string
		min, max float64
	}{{"limit", minLimit, maxLimit}} {
		s := op.Parameters.GetByInAndName("query", p.name).Schema.Value
		if *s.Min != p.min || *s.Max != p.max {
			t.Errorf("%s bounds in openapi.json are %v..%v, the code's %v..%v", p.name, *s.Min, *s.Max, p.min, p.max)
		}
	}
}

package models

import (
	"slices"
	"sync"
	"testing"

	"gorm.io/gorm/schema"
)

// TestScanColumnsAreTheModels: each model scanned without GORM selects every column GORM knows
// for it, in field order, and scans one target per column; the store tests then check the
// values on both databases.
func TestScanColumnsAreTheModels(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		model   interface{ targets() []any }
		columns []string
	}{
		{&User{}, userColumns},
		{&Product{}, productColumns},
		{&ProductImage{}, imageColumns},
		{&Conversation{}, conversationColumns},
		{&Message{}, messageColumns},
	} {
		s, err := schema.Parse(tt.model, &sync.Map{}, schema.NamingStrategy{})
		if err != nil {
			t.Fatalf("parse %T: %v", tt.model, err)
		}
		var want []string
		for _, f := range s.Fields {
			if f.DBName != "" {
				want = append(want, f.DBName)
			}
		}
		if !slices.Equal(tt.columns, want) {
			t.Errorf("%T: scanned columns %v, GORM's %v", tt.model, tt.columns, want)
		}
		if n := len(tt.model.targets()); n != len(tt.columns) {
			t.Errorf("%T: %d targets for %d columns", tt.model, n, len(tt.columns))
		}
	}
	// A message of an outer join scans the same columns (TestVendorConversationsWith reads one).
	if n := len((&optionalMessage{}).targets()); n != len(messageColumns) {
		t.Errorf("optionalMessage: %d targets for %d columns", n, len(messageColumns))
	}
	if m := (&optionalMessage{}).message(); m != nil {
		t.Errorf("optionalMessage of NULL columns = %+v, want nil", m)
	}
}

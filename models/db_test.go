package models_test

import (
	"context"
	"testing"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/dbtest"
)

// TestPostgresPlansEveryExecution guards the setting that keeps PostgreSQL from switching the
// inbox's prepared statements to generic plans, which measured 8× slower on skewed data; a
// plan_cache_mode in the URL still wins.
func TestPostgresPlansEveryExecution(t *testing.T) {
	t.Parallel()
	dsn, _ := dbtest.NewOn(t, models.Postgres)
	for _, tt := range []struct{ url, want string }{
		{dsn, models.CustomPlans},
		{dsn + "&plan_cache_mode=auto", "auto"},
	} {
		db, err := models.Open(context.Background(), tt.url)
		if err != nil {
			t.Fatal(err)
		}
		var mode string
		if err := db.Raw("SHOW plan_cache_mode").Scan(&mode).Error; err != nil {
			t.Fatal(err)
		}
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
		if mode != tt.want {
			t.Errorf("%s: plan_cache_mode = %q, want %q", tt.url, mode, tt.want)
		}
	}
}

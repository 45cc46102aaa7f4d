package database_test

import (
	"context"
	"testing"
	"time"

	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/dbtest"
)

// TestPostgresUsesGenericPlans: the service's connections keep one plan per prepared statement
// (its statements have one plan for every viewer: models.TestGenericPlansSuitEveryViewer), and a
// plan_cache_mode in the URL wins.
func TestPostgresUsesGenericPlans(t *testing.T) {
	t.Parallel()
	dsn, _ := dbtest.NewOn(t, database.Postgres)
	for _, tt := range []struct{ url, want string }{
		{dsn, database.GenericPlans},
		{dsn + "&plan_cache_mode=auto", database.AutoPlans},
	} {
		db, err := database.Open(context.Background(), tt.url)
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

// TestMigrationsAreNotBoundLikeRequests: a migration may rewrite a large table, so neither the
// service's bound on a statement nor PostgreSQL's statement_timeout stops it.
func TestMigrationsAreNotBoundLikeRequests(t *testing.T) {
	t.Parallel()
	dsn, setup := dbtest.NewOn(t, database.Postgres)
	// An empty database again, so that every migration runs, and its first DDL statement made
	// slower than both bounds (generous ones: the machine may be busy).
	for _, sql := range []string{
		"DROP SCHEMA public CASCADE",
		"CREATE SCHEMA public",
		`CREATE FUNCTION slow_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN
			IF current_setting('slow_ddl.done', true) IS NULL THEN
				PERFORM set_config('slow_ddl.done', 'yes', false);
				PERFORM pg_sleep(1.5);
			END IF;
		END $$`,
		"CREATE EVENT TRIGGER slow_ddl ON ddl_command_start EXECUTE FUNCTION slow_ddl()",
	} {
		if err := setup.Exec(sql).Error; err != nil {
			t.Fatal(err)
		}
	}
	db, err := database.OpenWith(context.Background(), dsn, database.DBOptions{StatementTimeout: 500 * time.Millisecond, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	}()
	var bound string
	if err := db.Raw("SHOW statement_timeout").Scan(&bound).Error; err != nil || bound != "500ms" {
		t.Fatalf("statement_timeout = %q (%v): the bound is not in force, so this test proves nothing", bound, err)
	}
	applied, err := database.Migrate(context.Background(), db)
	if err != nil || len(applied) == 0 {
		t.Fatalf("migrate under request bounds: %v %v", applied, err)
	}
}

// TestEmbeddedSQLiteIsCurrent: the embedded database is the SQLite go.mod pins (a current one),
// not the 2023 build the GORM driver alone would bring.
func TestEmbeddedSQLiteIsCurrent(t *testing.T) {
	t.Parallel()
	_, db := dbtest.NewOn(t, database.SQLite)
	var version string
	if err := db.Raw("SELECT sqlite_version()").Scan(&version).Error; err != nil {
		t.Fatal(err)
	}
	if version != "3.54.1" {
		t.Errorf("SQLite %s, want 3.54.1 (modernc.org/sqlite v1.62.0)", version)
	}
}

// Package dbtest gives each test its own freshly migrated database, so tests can run in
// parallel and never see each other's rows. TEST_DB picks the dialect: "postgres" (the
// default) or "sqlite"; `make test` runs the suite once with each. PostgreSQL is required when
// chosen: when it cannot be reached the test fails, it never skips.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
)

// DefaultURL is the local server the tests use when TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// ServerURL returns TEST_DATABASE_URL or DefaultURL.
func ServerURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Dialect returns the dialect TEST_DB selects.
func Dialect(t testing.TB) string {
	switch d := os.Getenv("TEST_DB"); d {
	case "", database.Postgres:
		return database.Postgres
	case database.SQLite:
		return database.SQLite
	default:
		t.Fatalf("TEST_DB must be %q or %q, not %q", database.Postgres, database.SQLite, d)
		return ""
	}
}

// New creates an empty, migrated database for t, removed when t ends, and returns its URL and
// an open handle.
func New(t testing.TB) (string, *gorm.DB) {
	t.Helper()
	return NewOn(t, Dialect(t))
}

// NewOn is New on a given dialect, for the few tests about one database's own behaviour.
func NewOn(t testing.TB, dialect string) (string, *gorm.DB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var dsn string
	if dialect == database.SQLite {
		dsn = "sqlite:" + filepath.Join(t.TempDir(), "test.db")
	} else {
		dsn = newPostgres(t, ctx)
	}
	db, err := database.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { Close(db) })
	if _, err := database.Migrate(ctx, db); err != nil {
		t.Fatalf("migrate test database: %v", err)
	}
	return dsn, db
}

// newPostgres creates a database on the test server and returns its URL.
func newPostgres(t testing.TB, ctx context.Context) string {
	t.Helper()
	server := ServerURL()
	admin, err := database.Open(ctx, server)
	if err != nil {
		t.Fatalf("PostgreSQL is required for this test and is unreachable at %s (set TEST_DATABASE_URL): %v", server, err)
	}
	defer Close(admin)

	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "t_" + hex.EncodeToString(suffix)
	if err := admin.Exec("CREATE DATABASE " + name).Error; err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := database.Open(context.Background(), server)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer Close(admin)
		if err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").Error; err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Close closes db's connection pool.
func Close(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		_ = sqlDB.Close()
	}
}

// ExpireSession makes the session with cookie value id expired a second ago.
func ExpireSession(t testing.TB, db *gorm.DB, id string) {
	t.Helper()
	hash := sha256.Sum256([]byte(id))
	now := time.Now().UTC()
	res := db.Model(&models.Session{}).Where("id_hash = ?", hash[:]).
		Updates(map[string]any{"created_at": now.Add(-48 * time.Hour), "expires_at": now.Add(-time.Second)})
	if res.Error != nil || res.RowsAffected != 1 {
		t.Fatalf("expire session: %v (%d rows)", res.Error, res.RowsAffected)
	}
}

// Schema lists the indexes and constraints of db's public schema, with their comments, one
// sorted line each, as the catalogue defines them: two databases that list the same have the
// same indexes and constraints. PostgreSQL only.
func Schema(t testing.TB, db *gorm.DB) []string {
	t.Helper()
	var lines []string
	err := db.Raw(`
		SELECT format('index %s on %s: %s; valid %s, clustered %s, replica identity %s; comment %L',
		              i.indexrelid::regclass, i.indrelid::regclass, pg_get_indexdef(i.indexrelid),
		              i.indisvalid, i.indisclustered, i.indisreplident, obj_description(i.indexrelid, 'pg_class'))
		FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
		WHERE c.relnamespace = 'public'::regnamespace
		UNION ALL
		SELECT format('constraint %s on %s: %s; deferrable %s, deferred %s, validated %s, index %s; comment %L',
		              c.conname, c.conrelid::regclass, pg_get_constraintdef(c.oid),
		              c.condeferrable, c.condeferred, c.convalidated, coalesce(nullif(c.conindid, 0)::regclass::text, 'none'),
		              obj_description(c.oid, 'pg_constraint'))
		FROM pg_constraint c
		WHERE c.connamespace = 'public'::regnamespace
		ORDER BY 1`).Scan(&lines).Error
	if err != nil {
		t.Fatalf("read the schema: %v", err)
	}
	return lines
}

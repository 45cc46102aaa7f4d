// Package dbtest gives each test its own freshly migrated PostgreSQL database, so tests can run
// in parallel and never see each other's rows. PostgreSQL is required: when it cannot be
// reached the test fails, it never skips.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/models"
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

// New creates an empty, migrated database for t, dropped when t ends, and returns its URL and
// an open handle.
func New(t testing.TB) (string, *gorm.DB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	server := ServerURL()
	admin, err := models.Open(ctx, server)
	if err != nil {
		t.Fatalf("PostgreSQL is required for this test and is unreachable at %s (set TEST_DATABASE_URL): %v", server, err)
	}
	defer closeDB(admin)

	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "t_" + hex.EncodeToString(suffix)
	if err := admin.Exec("CREATE DATABASE " + name).Error; err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := models.Open(context.Background(), server)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer closeDB(admin)
		if err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").Error; err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})

	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	dsn := u.String()
	db, err := models.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { closeDB(db) })
	if _, err := models.Migrate(ctx, db); err != nil {
		t.Fatalf("migrate test database: %v", err)
	}
	return dsn, db
}

func closeDB(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		_ = sqlDB.Close()
	}
}

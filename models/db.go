package models

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Open connects to the PostgreSQL database at dsn (a postgres:// URL) and checks it answers.
func Open(ctx context.Context, dsn string) (*gorm.DB, error) {
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true, // single statements need no BEGIN/COMMIT round trips
		NowFunc:                func() time.Time { return time.Now().UTC() },
		TranslateError:         true,
	})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return db, nil
}

// CountStatements calls count once for every SQL statement db executes, so that the number of
// statements a request costs can be observed (and asserted: it must not grow with page size).
func CountStatements(db *gorm.DB, count func()) error {
	cb := func(tx *gorm.DB) {
		// GORM runs the callbacks in dry-run mode to render subqueries; those execute nothing.
		if !tx.DryRun {
			count()
		}
	}
	const name = "partizap:count_statements"
	cbs := db.Callback()
	for _, err := range []error{
		cbs.Create().After("gorm:create").Register(name, cb),
		cbs.Query().After("gorm:query").Register(name, cb),
		cbs.Update().After("gorm:update").Register(name, cb),
		cbs.Delete().After("gorm:delete").Register(name, cb),
		cbs.Row().After("gorm:row").Register(name, cb),
		cbs.Raw().After("gorm:raw").Register(name, cb),
	} {
		if err != nil {
			return fmt.Errorf("register statement counter: %w", err)
		}
	}
	return nil
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	Version  int
	Name     string
	Checksum string
	SQL      string
}

func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, path := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(path, "migrations/"), ".sql")
		prefix, _, ok := strings.Cut(name, "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version and '_'", path)
		}
		body, err := migrationFiles.ReadFile(path)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		ms = append(ms, migration{Version: version, Name: name, Checksum: hex.EncodeToString(sum[:]), SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share a version", ms[i-1].Name, ms[i].Name)
		}
	}
	return ms, nil
}

type appliedMigration struct {
	Version   int `gorm:"primaryKey"`
	Name      string
	Checksum  string
	AppliedAt time.Time
}

func (appliedMigration) TableName() string { return "schema_migrations" }

// Migrate applies the embedded migrations not yet applied, all in one transaction (all or
// nothing), and returns the names of those it applied. It is safe to run concurrently (an advisory lock
// serialises instances) and again (applied versions are skipped). It refuses to run when an
// applied migration's file has changed: migrations are append-only.
func Migrate(ctx context.Context, db *gorm.DB) ([]string, error) {
	ms, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	var applied []string
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Transaction-scoped, so a crash cannot leave it held. The key is arbitrary but fixed.
		if err := tx.Exec("SELECT pg_advisory_xact_lock(8127364501)").Error; err != nil {
			return err
		}
		if err := tx.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     PRIMARY KEY,
			name       text        NOT NULL,
			checksum   text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`).Error; err != nil {
			return err
		}
		var done []appliedMigration
		if err := tx.Find(&done).Error; err != nil {
			return err
		}
		byVersion := make(map[int]appliedMigration, len(done))
		for _, d := range done {
			byVersion[d.Version] = d
		}
		for _, m := range ms {
			if d, ok := byVersion[m.Version]; ok {
				if d.Checksum != m.Checksum {
					return fmt.Errorf("migration %s was changed after it was applied; add a new migration instead", m.Name)
				}
				continue
			}
			if err := tx.Exec(m.SQL).Error; err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			if err := tx.Create(&appliedMigration{Version: m.Version, Name: m.Name, Checksum: m.Checksum, AppliedAt: time.Now().UTC()}).Error; err != nil {
				return err
			}
			applied = append(applied, m.Name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}

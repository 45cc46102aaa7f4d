// Package database is the plumbing beneath models: opening PostgreSQL or the embedded SQLite,
// the pool and its bounds on every statement, the statement counter, outage reporting, the
// readiness probe, and the migrations. It knows SQL drivers and GORM's configuration, and
// nothing of the domain, which stays in models.
package database

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Database dialects the service runs on.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// Open connects to the database a URL names and checks that it answers:
//
//	postgres://user:password@host:port/db?sslmode=disable   PostgreSQL (postgresql:// too)
//	sqlite:path/to/file.db                                  an embedded SQLite file, created if missing
//
// Errors are one line and never contain the password.
func Open(ctx context.Context, databaseURL string) (*gorm.DB, error) {
	return OpenWith(ctx, databaseURL, DBOptions{})
}

// DBOptions tune the connection pool; zero values keep the defaults.
type DBOptions struct {
	MaxOpenConns     int           // connections at most (database/sql's default: unlimited)
	StatementTimeout time.Duration // PostgreSQL cancels a statement running longer
	ConnectTimeout   time.Duration // PostgreSQL: give up connecting after this long
	// Timeout bounds every statement on the service's side, its wait for a pooled connection
	// included (0: only the caller's context does). Unlike StatementTimeout it also ends a
	// statement the server cannot answer at all, e.g. a hung one. Keep StatementTimeout below
	// it, so that PostgreSQL normally cancels first: that error is clean and the connection
	// stays usable, where a client-side cancellation costs the connection.
	Timeout time.Duration
}

// OpenWith is Open with pool options.
func OpenWith(ctx context.Context, databaseURL string, opts DBOptions) (*gorm.DB, error) {
	dialector, err := dialectorFor(databaseURL, opts)
	if err != nil {
		return nil, err
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true, // single statements need no BEGIN/COMMIT round trips
		NowFunc:                func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		TranslateError:         true,
	})
	if err != nil { // PostgreSQL's dialector connects here already
		return nil, fmt.Errorf("connect to %s: %s", RedactURL(databaseURL), oneLine(err))
	}
	if err := db.Use(&statementHooks{timeout: opts.Timeout}); err != nil {
		return nil, fmt.Errorf("open %s: %s", RedactURL(databaseURL), oneLine(err))
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s: %s", RedactURL(databaseURL), oneLine(err))
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("connect to %s: %s", RedactURL(databaseURL), oneLine(err))
	}
	if opts.MaxOpenConns > 0 {
		sqlDB.SetMaxOpenConns(opts.MaxOpenConns)
		sqlDB.SetMaxIdleConns(opts.MaxOpenConns)
	}
	// Connections broken by a database restart are dropped by the driver; recycling the rest now
	// and then also spreads them over a server's replacement.
	sqlDB.SetConnMaxLifetime(30 * time.Minute)
	return db, nil
}

func dialectorFor(databaseURL string, opts DBOptions) (gorm.Dialector, error) {
	switch {
	case isPostgresURL(databaseURL):
		config, err := pgConfig(databaseURL, opts)
		if err != nil {
			return nil, err
		}
		return postgres.New(postgres.Config{Conn: stdlib.OpenDB(*config)}), nil
	case strings.HasPrefix(databaseURL, "sqlite:"):
		path, dsn, err := sqliteDSN(databaseURL)
		if err != nil {
			return nil, err
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("create the directory of %s: %w", path, err)
			}
		}
		return sqlite.Open(dsn), nil
	default:
		return nil, fmt.Errorf("DATABASE_URL must start with postgres:// or sqlite:, got %q", RedactURL(databaseURL))
	}
}

func isPostgresURL(databaseURL string) bool {
	return strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://")
}

// pgConfig is the pgx configuration of a PostgreSQL URL with the service's settings.
func pgConfig(databaseURL string, opts DBOptions) (*pgx.ConnConfig, error) {
	config, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL is not a valid PostgreSQL URL (%s): %s", RedactURL(databaseURL), oneLine(err))
	}
	// Settings the URL names win over the service's.
	if _, set := config.RuntimeParams["statement_timeout"]; !set && opts.StatementTimeout > 0 {
		config.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	}
	if _, set := config.RuntimeParams["plan_cache_mode"]; !set {
		config.RuntimeParams["plan_cache_mode"] = GenericPlans // see GenericPlans
	}
	if u, err := url.Parse(databaseURL); err == nil && !u.Query().Has("connect_timeout") && opts.ConnectTimeout > 0 {
		config.ConnectTimeout = opts.ConnectTimeout
	}
	return config, nil
}

// sqliteDSN returns the file a sqlite: URL names and the driver's DSN for it.
func sqliteDSN(databaseURL string) (path, dsn string, err error) {
	path = strings.TrimPrefix(databaseURL, "sqlite:")
	if path == "" {
		return "", "", errors.New("DATABASE_URL sqlite: needs a file path, e.g. sqlite:./data/partizap.db")
	}
	// Foreign keys are off in SQLite unless asked for; WAL lets readers run beside the
	// writer; a busy writer is waited for rather than failed; writes take the lock upfront.
	dsn = "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	return path, dsn, nil
}

// Dialect returns Postgres or SQLite.
func Dialect(db *gorm.DB) string {
	if db.Dialector.Name() == "sqlite" {
		return SQLite
	}
	return Postgres
}

// RedactURL returns a database URL fit for logs: without its password.
func RedactURL(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.User == nil {
		if err != nil && strings.Contains(databaseURL, "@") {
			return "(unparseable URL)"
		}
		return databaseURL
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// oneLine folds a multi-line driver error into one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// CountStatements calls count once for every SQL statement db executes, so that the number of
// statements a request costs can be observed (and asserted: it must not grow with page size).
func CountStatements(db *gorm.DB, count func()) error {
	return ObserveStatements(db, func(string, []any) { count() })
}

// ObserveStatements calls observe with the SQL and the arguments of every statement db executes,
// after it ran: for tools that study the statements (the benchmark's plans), and for counting.
func ObserveStatements(db *gorm.DB, observe func(sql string, vars []any)) error {
	cb := func(tx *gorm.DB) {
		// GORM runs the callbacks in dry-run mode to render subqueries; those execute nothing.
		if !tx.DryRun {
			observe(tx.Statement.SQL.String(), tx.Statement.Vars)
		}
	}
	name := fmt.Sprintf("partizap:observe_statements:%p", observe)
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
			return fmt.Errorf("register statement observer: %w", err)
		}
	}
	return nil
}

// Each dialect has its own migrations, with the same versions and the same meaning.
//
//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrationFiles embed.FS

type migration struct {
	Version  int
	Name     string
	Checksum string
	SQL      string
}

func loadMigrations(dialect string) ([]migration, error) {
	dir := "migrations/" + dialect + "/"
	names, err := fs.Glob(migrationFiles, dir+"*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, path := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(path, dir), ".sql")
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
// serialises instances: an advisory lock in PostgreSQL, the write lock in SQLite) and again
// (applied versions are skipped). It refuses to run when an applied migration's file has
// changed: migrations are append-only.
func Migrate(ctx context.Context, db *gorm.DB) ([]string, error) {
	dialect := Dialect(db)
	ms, err := loadMigrations(dialect)
	if err != nil {
		return nil, err
	}
	var applied []string
	// A migration may rewrite a large table: neither the service's bound on a statement nor
	// PostgreSQL's statement_timeout, both sized for requests, applies to it.
	err = db.WithContext(WithoutTimeout(ctx)).Transaction(func(tx *gorm.DB) error {
		if dialect == Postgres {
			// set_config(…, true) is SET LOCAL; through database/sql a bare SET LOCAL measured not
			// to hold for the next statement under load (TestMigrationsAreNotBoundLikeRequests).
			if err := tx.Exec("SELECT set_config(?, ?, true)", "statement_timeout", "0").Error; err != nil {
				return err
			}
			// Transaction-scoped, so a crash cannot leave it held. The key is arbitrary but fixed.
			if err := tx.Exec("SELECT pg_advisory_xact_lock(8127364501)").Error; err != nil {
				return err
			}
		}
		timestamp := map[string]string{Postgres: "timestamptz", SQLite: "datetime"}[dialect]
		if err := tx.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer NOT NULL PRIMARY KEY,
			name       text    NOT NULL,
			checksum   text    NOT NULL,
			applied_at ` + timestamp + ` NOT NULL)`).Error; err != nil {
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

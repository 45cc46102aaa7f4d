package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// seedGoal is the seed's target: at least this multiple of the SQL-only load's rows/s,
// measured in the same run (the machine is shared, so only a ratio of one run means anything).
const seedGoal = 0.7

// seedComparison is the seed against the SQL-only load, each into a scratch database of its
// own, one after the other.
type seedComparison struct {
	Seed     loadTiming // the seed command's wall time: migrations, rows, statistics
	SeedLine string     // its JSON summary
	SQL      loadTiming
	Options  options // the data set's options
}

func (c *seedComparison) Ratio() float64 {
	return c.Seed.RowsPerSecond() / max(c.SQL.RowsPerSecond(), 1e-9)
}

func (c *seedComparison) String() string {
	return fmt.Sprintf("seed: %d rows in %.1f s (%.0f rows/s); SQL-only: %d rows in %.1f s (%.0f rows/s); ratio %.2f (databases of %.0f and %.0f MiB)",
		c.Seed.Rows, c.Seed.Seconds, c.Seed.RowsPerSecond(), c.SQL.Rows, c.SQL.Seconds, c.SQL.RowsPerSecond(), c.Ratio(),
		c.Seed.MiB(), c.SQL.MiB())
}

// compareSeed seeds a scratch database with the server's seed command and the run's seed
// options, then fills another with the SQL-only load, and drops both. Their names are the
// -database-url's with _cmp_seed and _cmp_sql appended; that database itself is not touched.
func compareSeed(ctx context.Context, opts options, server string, logf func(string, ...any)) (*seedComparison, error) {
	c := &seedComparison{Options: opts}
	seedURL, err := scratchURL(opts.DatabaseURL, "_cmp_seed")
	if err != nil {
		return nil, err
	}
	sqlURL, err := scratchURL(opts.DatabaseURL, "_cmp_sql")
	if err != nil {
		return nil, err
	}

	err = withScratch(ctx, seedURL, &c.Seed, logf, func() error {
		seedOpts := opts
		seedOpts.DatabaseURL = seedURL
		start := time.Now()
		line, err := seed(ctx, seedOpts, server, logf)
		if err != nil {
			return err
		}
		c.Seed.Seconds, c.SeedLine = time.Since(start).Seconds(), line
		c.Seed.Rows, err = seededRows(line)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = withScratch(ctx, sqlURL, &c.SQL, logf, func() error {
		timing, err := sqlOnlyLoad(ctx, sqlURL, opts, logf)
		c.SQL.Rows, c.SQL.Seconds = timing.Rows, timing.Seconds
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// seededRows is the number of rows a seed summary counts.
func seededRows(line string) (int64, error) {
	var s struct {
		Users         int64 `json:"users"`
		Products      int64 `json:"products"`
		ProductImages int64 `json:"product_images"`
		Conversations int64 `json:"conversations"`
		Participants  int64 `json:"participants"`
		Messages      int64 `json:"messages"`
	}
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		return 0, fmt.Errorf("the seed's summary: %w", err)
	}
	return s.Users + s.Products + s.ProductImages + s.Conversations + s.Participants + s.Messages, nil
}

// scratchURL is databaseURL naming the database with suffix appended to its name.
func scratchURL(databaseURL, suffix string) (string, error) {
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || len(u.Path) < 2 {
		return "", errors.New("-database-url: the comparison needs a postgres:// URL naming a database")
	}
	u.Path += suffix
	return u.String(), nil
}

// withScratch creates the database of databaseURL, which must not exist, checkpoints, so that
// each load starts with no dirty buffers of the one before, runs f, records the database's size
// in l, and drops the database.
func withScratch(ctx context.Context, databaseURL string, l *loadTiming, logf func(string, ...any), f func() error) (err error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return err
	}
	conn, err := connectAdmin(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	name := pgx.Identifier{cfg.Database}.Sanitize()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", cfg.Database).Scan(&exists); err != nil {
		return err
	}
	if exists {
		// Never drop a database this run did not create: the name may be someone's.
		return fmt.Errorf("scratch database %s exists (left by an interrupted comparison?): drop it first", name)
	}
	logf("creating scratch database %s", name)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return err
	}
	defer func() {
		// Also when ctx is canceled: the scratch database is big.
		dropCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, dropErr := conn.Exec(dropCtx, "DROP DATABASE "+name+" WITH (FORCE)"); dropErr != nil {
			err = errors.Join(err, fmt.Errorf("drop scratch database %s: %w", name, dropErr))
		}
	}()
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("checkpoint before the load: %w", err)
	}
	if err := f(); err != nil {
		return err
	}
	return conn.QueryRow(ctx, "SELECT pg_database_size($1)", cfg.Database).Scan(&l.Bytes)
}

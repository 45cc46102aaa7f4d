package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// dataset describes the database a run measured on.
type dataset struct {
	Database string // its name
	// SeedLine is the seed's JSON summary when this run seeded the database; empty when it
	// was seeded before, and the counts below are all there is.
	SeedLine             string
	Users                int64
	Conversations        int64
	Messages             int64
	BusiestVendorID      int64
	BusiestConversations int64
	PostgresVersion      string
}

// Seeding the full dataset takes minutes; a run that takes longer is stuck.
const seedTimeout = time.Hour

// ensureDataset creates the database when missing and seeds it when it has no users. A
// database that has users is used as it is, whatever options seeded it: reseeding is for
// whoever drops it, never for the benchmark.
func ensureDataset(ctx context.Context, opts options, server string, logf func(string, ...any)) (dataset, error) {
	cfg, err := pgx.ParseConfig(opts.DatabaseURL)
	if err != nil {
		return dataset{}, fmt.Errorf("-database-url: %w", err)
	}
	d := dataset{Database: cfg.Database}
	if err := createDatabase(ctx, cfg, logf); err != nil {
		return dataset{}, err
	}
	seeded, err := hasUsers(ctx, opts.DatabaseURL)
	if err != nil {
		return dataset{}, err
	}
	if !seeded {
		if d.SeedLine, err = seed(ctx, opts, server, logf); err != nil {
			return dataset{}, err
		}
	} else {
		logf("database %q is already seeded: using it as it is", d.Database)
	}
	return d, countDataset(ctx, opts.DatabaseURL, &d)
}

// createDatabase creates cfg's database unless it exists, connected to the same server's
// `postgres` database (a database cannot be created from inside itself).
func createDatabase(ctx context.Context, cfg *pgx.ConnConfig, logf func(string, ...any)) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := connectAdmin(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", cfg.Database).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	logf("creating database %q", cfg.Database)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.Database}.Sanitize())
	return err
}

// connectAdmin connects to the `postgres` database of cfg's server, where databases are created
// and dropped (never from inside themselves).
func connectAdmin(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("connect to the server's postgres database: %w", err)
	}
	return conn, nil
}

func hasUsers(ctx context.Context, databaseURL string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	// A new database has no users table yet: the seed's migrations make it.
	var table, has bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('users') IS NOT NULL`).Scan(&table); err != nil || !table {
		return false, err
	}
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&has)
	return has, err
}

// seed runs the server's own seed command, so the data is exactly what `seed` makes, and
// returns the JSON line it prints. Its progress goes to stderr as it comes.
func seed(ctx context.Context, opts options, server string, logf func(string, ...any)) (string, error) {
	args := []string{"seed",
		"--vendors", strconv.Itoa(opts.Vendors),
		"--conversations", strconv.Itoa(opts.Conversations),
		"--messages", strconv.Itoa(opts.Messages),
		"--seed", strconv.FormatInt(opts.Seed, 10),
	}
	// Zero means no busiest vendor: leaving the flag out lets a seed without it run too.
	if opts.Busiest > 0 {
		args = append(args, "--busiest", strconv.Itoa(opts.Busiest))
	}
	logf("seeding: server %s", strings.Join(args, " "))
	ctx, cancel := context.WithTimeout(ctx, seedTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, server, args...)
	// Every command of the server reads the same configuration, CURSOR_SECRET included.
	cmd.Env = serviceEnv(map[string]string{"DATABASE_URL": opts.DatabaseURL, "CURSOR_SECRET": benchCursorSecret})
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &teeWriter{&stderr, os.Stderr}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "flag provided but not defined: -busiest") {
			msg += "\n(this server's seed has no --busiest yet: pass -busiest 0, and a -deep-page that exists)"
		}
		return "", fmt.Errorf("seed: %w: %s", err, msg)
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if json.Valid([]byte(line)) && strings.HasPrefix(line, "{") {
			return line, nil
		}
	}
	return "", fmt.Errorf("seed printed no JSON summary: %q", stdout.String())
}

// teeWriter writes to both, like io.MultiWriter, but a failing second writer (a closed
// terminal) does not stop the first.
type teeWriter struct{ a, b io.Writer }

func (t *teeWriter) Write(p []byte) (int, error) {
	_, _ = t.b.Write(p)
	return t.a.Write(p)
}

// countDataset reads what the report says about the data from the database itself, so a
// database seeded by someone else is described as truly as one this run seeded.
func countDataset(ctx context.Context, databaseURL string, d *dataset) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM conversations),
		(SELECT count(*) FROM messages), version()`).Scan(&d.Users, &d.Conversations, &d.Messages, &d.PostgresVersion)
	if err != nil {
		return fmt.Errorf("count the dataset: %w", err)
	}
	// The same choice as the service's BusiestVendor: most conversations, ties to the lowest id.
	err = conn.QueryRow(ctx, `SELECT seller_id, count(*) FROM conversations
		GROUP BY seller_id ORDER BY count(*) DESC, seller_id LIMIT 1`).Scan(&d.BusiestVendorID, &d.BusiestConversations)
	if errors.Is(err, pgx.ErrNoRows) {
		return errors.New("the database has no conversations to page through: drop it and let the bench seed it")
	}
	return err
}

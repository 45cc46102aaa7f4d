package database_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/dbtest"
)

// TestStatementTimeout runs statements slower than DBOptions.Timeout: the bound ends them with
// EUNAVAILABLE on both databases, whatever the driver makes of the cancellation (SQLite says
// "interrupted"), unless the context lifts it.
func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	dsn, _ := dbtest.New(t)
	// The slow statements: sleeps on PostgreSQL, counting on SQLite, which has no sleep. They
	// run with Exec: SQLite's driver interrupts a statement while it executes, not while the
	// caller reads its rows.
	slow := map[string]map[bool]string{
		database.Postgres: {true: "SELECT pg_sleep(30)", false: "SELECT pg_sleep(0.05)"},
		database.SQLite: {
			true:  "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 1000000000) SELECT count(*) FROM s",
			false: "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 30000) SELECT count(*) FROM s",
		},
	}[dbtest.Dialect(t)]
	for _, tt := range []struct {
		name     string
		timeout  time.Duration
		ctx      context.Context
		long     bool // the statement runs for far longer than any bound here
		wantCode string
	}{
		{"a statement over the timeout fails", 300 * time.Millisecond, context.Background(), true, models.EUNAVAILABLE},
		{"WithoutTimeout lifts the bound", time.Millisecond, database.WithoutTimeout(context.Background()), false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db, err := database.OpenWith(context.Background(), dsn, database.DBOptions{Timeout: tt.timeout})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { dbtest.Close(db) })
			began := time.Now()
			err = db.WithContext(tt.ctx).Exec(slow[tt.long]).Error
			elapsed := time.Since(began)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("%s: %v; want it to run to the end", slow[tt.long], err)
				}
				return
			}
			if !database.Unavailable(err) || !errors.Is(err, context.DeadlineExceeded) ||
				!strings.Contains(err.Error(), "no answer from the database within "+tt.timeout.String()) {
				t.Fatalf("%s: %v; want %s, no answer within %v", slow[tt.long], err, tt.wantCode, tt.timeout)
			}
			if elapsed < tt.timeout || elapsed > 10*tt.timeout {
				t.Fatalf("gave up after %v; want about %v", elapsed, tt.timeout)
			}
		})
	}
}

// TestStatementTimeoutKeepsResults checks what the deadline must not break: rows a caller
// reads after the statement's callbacks (Scan), and a statement value used twice.
func TestStatementTimeoutKeepsResults(t *testing.T) {
	t.Parallel()
	dsn, _ := dbtest.New(t)
	db, err := database.OpenWith(context.Background(), dsn, database.DBOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbtest.Close(db) })
	const n = 2000
	numbers := map[string]string{
		database.Postgres: "SELECT generate_series(1, ?) AS n",
		database.SQLite:   "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ?) SELECT n FROM s",
	}[database.Dialect(db)]
	for i := range 10 {
		var got []int
		if err := db.Raw(numbers, n).Scan(&got).Error; err != nil || len(got) != n || got[n-1] != n {
			t.Fatalf("Scan #%d of %d rows: %d rows, %v", i, n, len(got), err)
		}
	}
	for _, name := range []string{"Первый", "Второй"} {
		if err := db.Create(&models.User{DisplayName: name, Rating: "4.50", CreatedAt: time.Now()}).Error; err != nil {
			t.Fatal(err)
		}
	}
	q := db.Model(&models.User{}).Where("display_name <> ?", "")
	var count int64
	var users []models.User
	if err := q.Count(&count).Error; err != nil || count != 2 {
		t.Fatalf("Count = %d, %v; want 2", count, err)
	}
	if err := q.Find(&users).Error; err != nil || len(users) != 2 {
		t.Fatalf("Find after Count on the same statement = %d users, %v; want 2", len(users), err)
	}
}

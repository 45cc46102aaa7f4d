package database_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/dbtest"
)

// TestScanNative: on PostgreSQL a marked statement is read through pgx, once, with the hooks
// around it (the statement is observed) and its errors as the driver's own; elsewhere (SQLite, a
// transaction) nothing runs and the caller is told to read it through database/sql.
func TestScanNative(t *testing.T) {
	t.Parallel()
	const query = "SELECT 1 AS n, CAST(NULL AS TEXT) AS t, 'skipped' AS s UNION ALL SELECT 2, 'two', 'skipped' ORDER BY n"
	for _, tt := range []struct {
		name       string
		dialect    string
		inTx       bool
		wantNative bool
	}{
		{"postgres", database.Postgres, false, true},
		{"postgres, in a transaction", database.Postgres, true, false},
		{"sqlite", database.SQLite, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, db := dbtest.NewOn(t, tt.dialect)
			var observed []string
			if err := database.ObserveStatements(db, func(sql string, _ []any) { observed = append(observed, sql) }); err != nil {
				t.Fatal(err)
			}
			var got []string
			read := func(q *gorm.DB) (bool, error) {
				return database.ScanNative(q.Raw(query), func(rows pgx.Rows) error {
					for rows.Next() {
						var n int
						var text *string
						if err := rows.Scan(&n, &text, nil); err != nil { // nil: left unread
							return err
						}
						got = append(got, fmt.Sprint(n, " ", text != nil && *text == "two"))
					}
					return nil
				})
			}
			var native bool
			var err error
			if tt.inTx {
				err = db.Transaction(func(tx *gorm.DB) error { native, err = read(tx); return err })
			} else {
				native, err = read(db)
			}
			if err != nil || native != tt.wantNative {
				t.Fatalf("ScanNative = %t, %v; want %t, nil", native, err, tt.wantNative)
			}
			want, wantObserved := []string{"1 false", "2 true"}, []string{query}
			if !tt.wantNative {
				want, wantObserved = nil, nil
			}
			if !slices.Equal(got, want) || !slices.Equal(observed, wantObserved) {
				t.Fatalf("read %q with statements %q, want %q with %q", got, observed, want, wantObserved)
			}
		})
	}
}

// TestScanNativeReadsLikeDatabaseSQL: numerics keep their scale ("0.00", as database/sql reads
// them, not pgx's binary "0"), the other types come in binary, which pgx decodes fastest, and a
// failing statement or scan is the caller's error.
func TestScanNativeReadsLikeDatabaseSQL(t *testing.T) {
	t.Parallel()
	_, db := dbtest.NewOn(t, database.Postgres)
	var rating, viaSQL string
	var formats []int16
	if _, err := database.ScanNative(db.Raw("SELECT CAST(0 AS numeric(3, 2)), now(), CAST(1 AS bigint), 2, true, 'text'"), func(rows pgx.Rows) error {
		for _, f := range rows.FieldDescriptions() {
			formats = append(formats, f.Format)
		}
		for rows.Next() {
			if err := rows.Scan(&rating, nil, nil, nil, nil, nil); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []int16{pgx.TextFormatCode, pgx.BinaryFormatCode, pgx.BinaryFormatCode, pgx.BinaryFormatCode, pgx.BinaryFormatCode, pgx.BinaryFormatCode}; !slices.Equal(formats, want) {
		t.Errorf("formats of numeric, timestamptz, bigint, integer, boolean, text = %v, want %v", formats, want)
	}
	if err := db.Raw("SELECT CAST(0 AS numeric(3, 2))").Row().Scan(&viaSQL); err != nil {
		t.Fatal(err)
	}
	if rating != "0.00" || viaSQL != rating {
		t.Errorf("numeric(3, 2) 0 read %q natively and %q through database/sql, want both %q", rating, viaSQL, "0.00")
	}

	var pgErr *pgconn.PgError
	if _, err := database.ScanNative(db.Raw("SELECT 1 / 0"), func(rows pgx.Rows) error {
		for rows.Next() {
		}
		return nil
	}); !errors.As(err, &pgErr) || pgErr.Code != "22012" {
		t.Errorf("a division by zero = %v, want PostgreSQL's error 22012", err)
	}
	failed := errors.New("the scan failed")
	if _, err := database.ScanNative(db.Raw("SELECT 1"), func(pgx.Rows) error { return failed }); !errors.Is(err, failed) {
		t.Errorf("a failing scan = %v, want %v", err, failed)
	}
}

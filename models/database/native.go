package database

import (
	"database/sql"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
)

// Reading rows through pgx itself, beneath database/sql, for the statements whose rows cost
// most to scan: database/sql turns every column into a driver value, then into its target,
// allocating on the way, and cannot leave a column out; pgx decodes the wire format straight
// into the target and skips a column whose target is nil. The statement still runs through
// GORM's Row processor and every hook around it (the deadline, the outage reporter, metrics,
// traces): only GORM's own "gorm:row" step, which hands the statement to database/sql, is
// replaced, and only for a statement ScanNative marks.

const nativeSetting = hooksName + ":native"

type nativeScan struct {
	scan func(pgx.Rows) error
	ran  bool
}

// nativeFormats reads numeric columns as text, in the column's own scale ("0.00"), as
// database/sql's reading of them does, and the other types of the models' columns in binary,
// which pgx decodes fastest (a type missing here would come as text, read as well but slower).
var nativeFormats = pgx.QueryResultFormatsByOID{
	pgtype.NumericOID:     pgx.TextFormatCode,
	pgtype.Int2OID:        pgx.BinaryFormatCode,
	pgtype.Int4OID:        pgx.BinaryFormatCode,
	pgtype.Int8OID:        pgx.BinaryFormatCode,
	pgtype.BoolOID:        pgx.BinaryFormatCode,
	pgtype.TextOID:        pgx.BinaryFormatCode,
	pgtype.VarcharOID:     pgx.BinaryFormatCode,
	pgtype.ByteaOID:       pgx.BinaryFormatCode,
	pgtype.TimestamptzOID: pgx.BinaryFormatCode,
	pgtype.TimestampOID:   pgx.BinaryFormatCode,
}

// ScanNative runs q as Rows would and has scan read its rows through pgx, when q's database is
// PostgreSQL outside a transaction; it says true then, with the statement's error or scan's.
// Otherwise it runs nothing and says false, for the caller to read the rows through database/sql.
func ScanNative(q *gorm.DB, scan func(pgx.Rows) error) (bool, error) {
	if _, ok := q.Statement.ConnPool.(*sql.DB); !ok || Dialect(q) != Postgres {
		return false, nil
	}
	if _, ok := q.Config.Plugins[hooksName]; !ok {
		return false, nil // not opened by OpenWith: no native step
	}
	n := &nativeScan{scan: scan}
	rows, err := q.Set(nativeSetting, n).Rows()
	if rows != nil {
		rows.Close()
	}
	return n.ran || err != nil, err
}

// rowQuery is GORM's "gorm:row" step, which runs a statement ScanNative marks through pgx.
func rowQuery(db *gorm.DB) {
	v, ok := db.Get(nativeSetting)
	if !ok || db.DryRun {
		callbacks.RowQuery(db)
		return
	}
	n := v.(*nativeScan)
	if db.Error != nil {
		return
	}
	callbacks.BuildQuerySQL(db)
	if db.Error != nil {
		return
	}
	ctx := db.Statement.Context
	conn, err := db.Statement.ConnPool.(*sql.DB).Conn(ctx)
	if err != nil {
		_ = db.AddError(err)
		return
	}
	defer conn.Close()
	n.ran = true
	err = conn.Raw(func(driverConn any) error {
		args := append([]any{nativeFormats}, db.Statement.Vars...)
		rows, err := driverConn.(*stdlib.Conn).Conn().Query(ctx, db.Statement.SQL.String(), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		if err := n.scan(rows); err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	})
	if err != nil {
		_ = db.AddError(err)
	}
}

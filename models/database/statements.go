package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// statementHooks run around every statement a *gorm.DB from OpenWith executes: they put the
// statement under DBOptions.Timeout and tell the outage reporter, if any, how it went. One
// pair of callbacks does both, so that the reporter always sees the error the deadline left.
type statementHooks struct {
	timeout time.Duration
	outages atomic.Pointer[Outages]
}

const hooksName = "partizap:statements"

func (h *statementHooks) Name() string { return hooksName }

func (h *statementHooks) Initialize(db *gorm.DB) error {
	cbs := db.Callback()
	for _, err := range []error{
		cbs.Create().Before("*").Register(hooksName+":before", h.before),
		cbs.Query().Before("*").Register(hooksName+":before", h.before),
		cbs.Update().Before("*").Register(hooksName+":before", h.before),
		cbs.Delete().Before("*").Register(hooksName+":before", h.before),
		cbs.Row().Before("*").Register(hooksName+":before", h.before),
		cbs.Raw().Before("*").Register(hooksName+":before", h.before),
		cbs.Create().After("*").Register(hooksName+":after", h.after(false)),
		cbs.Query().After("*").Register(hooksName+":after", h.after(false)),
		cbs.Update().After("*").Register(hooksName+":after", h.after(false)),
		cbs.Delete().After("*").Register(hooksName+":after", h.after(false)),
		cbs.Row().After("*").Register(hooksName+":after", h.after(true)),
		cbs.Raw().After("*").Register(hooksName+":after", h.after(false)),
		cbs.Row().Replace("gorm:row", rowQuery), // see ScanNative
	} {
		if err != nil {
			return fmt.Errorf("register statement hooks: %w", err)
		}
	}
	return nil
}

// deadlineSetting is where before leaves the statement's deadline for after.
const deadlineSetting = hooksName + ":deadline"

type statementDeadline struct {
	parent context.Context
	ctx    context.Context
	cancel context.CancelFunc
}

type unboundedKey struct{}

// WithoutTimeout returns a context whose statements DBOptions.Timeout does not bound: for bulk
// work such as seeding, whose statements may take far longer than any request's.
func WithoutTimeout(ctx context.Context) context.Context {
	return context.WithValue(ctx, unboundedKey{}, true)
}

func (h *statementHooks) before(tx *gorm.DB) {
	// GORM runs the callbacks in dry-run mode to render subqueries; those execute nothing.
	if h.timeout <= 0 || tx.DryRun || tx.Error != nil {
		return
	}
	parent := tx.Statement.Context
	if parent == nil {
		parent = context.Background()
	}
	if parent.Value(unboundedKey{}) != nil {
		return
	}
	ctx, cancel := context.WithTimeout(parent, h.timeout)
	tx.Statement.Context = ctx
	tx.Statement.Settings.Store(deadlineSetting, &statementDeadline{parent: parent, ctx: ctx, cancel: cancel})
}

// after ends the statement's deadline and reports the outcome. rows is true for the Row
// processor (Row, Rows, Scan), whose rows the caller reads only after the callbacks return:
// cancelling then would cut them off, so on success the deadline is left to bound the reading
// too, and its timer goes when it fires or the caller's context ends.
func (h *statementHooks) after(rows bool) func(*gorm.DB) {
	return func(tx *gorm.DB) {
		if tx.DryRun {
			return
		}
		if v, ok := tx.Statement.Settings.LoadAndDelete(deadlineSetting); ok {
			d := v.(*statementDeadline)
			// A chain such as q.Count(&n); q.Find(&rows) shares one Statement.
			tx.Statement.Context = d.parent
			if tx.Error != nil && errors.Is(d.ctx.Err(), context.DeadlineExceeded) && d.parent.Err() == nil {
				tx.Error = &timeoutError{timeout: h.timeout, err: tx.Error}
			}
			if !rows || tx.Error != nil {
				d.cancel()
			}
		}
		if o := h.outages.Load(); o != nil {
			err := tx.Error
			if row, ok := tx.Statement.Dest.(*sql.Row); ok && rows && err == nil {
				err = row.Err()
			}
			switch {
			case err == nil, errors.Is(err, gorm.ErrRecordNotFound):
				o.succeeded()
			case Unavailable(err):
				o.failed(err)
			}
		}
	}
}

// timeoutError is a statement cut off by DBOptions.Timeout. It is a context.DeadlineExceeded,
// so the database counts as unavailable (EUNAVAILABLE), whatever the driver made of the
// cancellation (SQLite says "interrupted").
type timeoutError struct {
	timeout time.Duration
	err     error
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("no answer from the database within %s: %v", e.timeout, e.err)
}

func (e *timeoutError) Unwrap() []error { return []error{context.DeadlineExceeded, e.err} }

// hooksOf returns the statement hooks OpenWith installed on db.
func hooksOf(db *gorm.DB) (*statementHooks, error) {
	h, ok := db.Config.Plugins[hooksName].(*statementHooks)
	if !ok {
		return nil, errors.New("the database was not opened with database.OpenWith")
	}
	return h, nil
}

// Unavailable reports whether err is a failure of the database itself: unreachable,
// restarting, too slow for the deadline, or locked. Such failures are worth retrying; any
// other is a fault of the statement or the service.
func Unavailable(err error) bool {
	var pgErr *pgconn.PgError
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &pgErr):
		// Class 08: connection exceptions; 57P0x: the server is shutting down or starting up;
		// 57014: the statement timeout cancelled the query.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P0") || pgErr.Code == "57014"
	case errors.As(err, &connectErr), errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return true
	}
	// SQLite's writer lock outlasted the busy timeout.
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "conn closed")
}

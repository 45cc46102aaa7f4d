package database

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
)

// Telemetry says what to do with each statement a database executes: Observe its duration,
// and, with a Tracer, give it a span of its own, a child of the span of its context (the
// request's). Spans carry the SQL with its placeholders, never the values bound to them.
type Telemetry struct {
	Observe func(operation string, d time.Duration, failed bool) // optional
	Tracer  trace.Tracer                                         // optional: nil traces nothing
}

const telemetryName = "partizap:telemetry"

// telemetryStart is where before leaves what after needs.
const telemetryStart = telemetryName + ":start"

type statementStart struct {
	at     time.Time
	span   trace.Span
	parent context.Context // the statement's context before its span's, restored after
}

// Instrument makes db report every statement it executes to t.
func Instrument(db *gorm.DB, t Telemetry) error {
	system := "postgresql"
	if db.Dialector.Name() == SQLite {
		system = "sqlite"
	}
	cbs := db.Callback()
	type registry interface {
		Register(string, func(*gorm.DB)) error
	}
	// One pair of hooks around each of GORM's statement-running callbacks.
	for _, hooks := range []func() (before, after registry){
		func() (registry, registry) {
			return cbs.Create().Before("gorm:create"), cbs.Create().After("gorm:create")
		},
		func() (registry, registry) { return cbs.Query().Before("gorm:query"), cbs.Query().After("gorm:query") },
		func() (registry, registry) {
			return cbs.Update().Before("gorm:update"), cbs.Update().After("gorm:update")
		},
		func() (registry, registry) {
			return cbs.Delete().Before("gorm:delete"), cbs.Delete().After("gorm:delete")
		},
		func() (registry, registry) { return cbs.Row().Before("gorm:row"), cbs.Row().After("gorm:row") },
		func() (registry, registry) { return cbs.Raw().Before("gorm:raw"), cbs.Raw().After("gorm:raw") },
	} {
		before, after := hooks()
		if err := before.Register(telemetryName+":before", t.before(system)); err != nil {
			return fmt.Errorf("register statement telemetry: %w", err)
		}
		if err := after.Register(telemetryName+":after", t.after); err != nil {
			return fmt.Errorf("register statement telemetry: %w", err)
		}
	}
	return nil
}

func (t Telemetry) before(system string) func(*gorm.DB) {
	return func(tx *gorm.DB) {
		// GORM runs the callbacks in dry-run mode to render subqueries; those execute nothing.
		if tx.DryRun || tx.Error != nil {
			return
		}
		start := &statementStart{at: time.Now()}
		if t.Tracer != nil {
			ctx := tx.Statement.Context
			if ctx == nil {
				ctx = context.Background()
			}
			// Named once the SQL is known (after); a statement outside any trace starts none.
			if trace.SpanContextFromContext(ctx).IsValid() {
				start.parent = ctx
				tx.Statement.Context, start.span = t.Tracer.Start(ctx, "db", trace.WithSpanKind(trace.SpanKindClient),
					trace.WithAttributes(attribute.String("db.system.name", system)))
			}
		}
		tx.Statement.Settings.Store(telemetryStart, start)
	}
}

func (t Telemetry) after(tx *gorm.DB) {
	v, ok := tx.Statement.Settings.LoadAndDelete(telemetryStart)
	if !ok {
		return
	}
	start := v.(*statementStart)
	sql := tx.Statement.SQL.String()
	op := operationOf(sql)
	failed := tx.Error != nil && tx.Error != gorm.ErrRecordNotFound
	if t.Observe != nil {
		t.Observe(op, time.Since(start.at), failed)
	}
	if start.span == nil {
		return
	}
	name := op
	if table := tableOf(tx.Statement); table != "" {
		name += " " + table
		start.span.SetAttributes(attribute.String("db.collection.name", table))
	}
	start.span.SetName(name)
	start.span.SetAttributes(attribute.String("db.operation.name", op), attribute.String("db.query.text", sql))
	if failed {
		start.span.SetStatus(codes.Error, tx.Error.Error())
	}
	start.span.End()
	tx.Statement.Context = start.parent
}

// tableOf is the table a statement is about: its FROM's first table ("sessions" of
// Table("sessions AS s"), whose Statement.Table is the alias; "conversations" of
// Table("(?) AS page", a query of conversations)).
func tableOf(st *gorm.Statement) string {
	// FROM (subquery) AS alias: the subquery's table.
	if st.TableExpr != nil && strings.HasPrefix(st.TableExpr.SQL, "(") && len(st.TableExpr.Vars) > 0 {
		if sub, ok := st.TableExpr.Vars[0].(*gorm.DB); ok && sub.Statement != nil {
			return tableOf(sub.Statement)
		}
	}
	if st.TableExpr != nil {
		word, _, _ := strings.Cut(strings.TrimSpace(st.TableExpr.SQL), " ")
		return strings.Trim(word, "\"`")
	}
	return st.Table
}

// operationOf is the SQL command of a statement, the first word of its text: SELECT, INSERT,
// WITH, … (a bounded set, fit for a metric's label).
func operationOf(sql string) string {
	word, _, _ := strings.Cut(strings.TrimSpace(sql), " ")
	switch w := strings.ToUpper(word); w {
	case "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "COPY", "VACUUM", "ANALYZE", "CREATE", "ALTER", "DROP":
		return w
	default:
		return "OTHER"
	}
}

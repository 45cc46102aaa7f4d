package database

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// DeferredIndexes is what DropIndexes took off some tables for a bulk load: the statements that
// put it back as it was. Into empty tables, building each index once from all the rows, and
// checking each foreign key with one join, is several times faster than maintaining them row
// by row; a foreign key checked row by row also locks the referenced row, writing to its page.
type DeferredIndexes struct {
	// Creates recreate, in this order, the primary keys and unique constraints, the other
	// indexes, the foreign keys, and the comments on any of them.
	Creates []string
}

// DropIndexes drops, in tx, every index and primary key, unique and foreign-key constraint of
// tables, and the foreign keys of other tables that reference them, and returns what recreates
// them. The definitions are read from the catalogue (pg_get_indexdef, pg_get_constraintdef, as in
// pg_indexes and pg_dump), so that Restore makes the schema the migrations made, whatever they
// define. CHECK and NOT NULL constraints stay: checked row by row they cost little, and adding
// one back would scan its table; so do exclusion constraints and their indexes. Tables must be
// names tx can resolve. PostgreSQL only.
//
// Until Restore, nothing enforces the uniqueness or the references: the caller must load rows
// that satisfy them, and Restore's checks then fail the transaction if it did not.
func DropIndexes(ctx context.Context, tx pgx.Tx, tables []string) (*DeferredIndexes, error) {
	// One row per index or constraint, in the order of the drops: foreign keys first, then
	// the constraints and indexes they may depend on. Creates go the other way.
	rows, err := tx.Query(ctx, `
		WITH t AS (SELECT name::regclass AS oid FROM unnest($1::text[]) AS name)
		SELECT drop_sql, create_sql, create_order, array_remove(comments, NULL) FROM (
			SELECT CASE c.contype WHEN 'f' THEN 1 ELSE 2 END AS drop_order,
			       CASE c.contype WHEN 'f' THEN 3 ELSE 1 END AS create_order,
			       c.conrelid::regclass::text AS rel, c.conname::text AS name,
			       format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname) AS drop_sql,
			       format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid)) AS create_sql,
			       ARRAY[
			           CASE WHEN obj_description(c.oid, 'pg_constraint') IS NOT NULL THEN
			               format('COMMENT ON CONSTRAINT %I ON %s IS %L', c.conname, c.conrelid::regclass, obj_description(c.oid, 'pg_constraint')) END,
			           CASE WHEN c.contype <> 'f' AND obj_description(c.conindid, 'pg_class') IS NOT NULL THEN
			               format('COMMENT ON INDEX %s IS %L', c.conindid::regclass, obj_description(c.conindid, 'pg_class')) END
			       ] AS comments
			FROM pg_constraint c
			WHERE (c.contype IN ('p', 'u') AND c.conrelid IN (SELECT oid FROM t))
			   OR (c.contype = 'f' AND (c.conrelid IN (SELECT oid FROM t) OR c.confrelid IN (SELECT oid FROM t)))
			UNION ALL
			SELECT 3, 2, i.indrelid::regclass::text, i.indexrelid::regclass::text,
			       format('DROP INDEX %s', i.indexrelid::regclass),
			       pg_get_indexdef(i.indexrelid),
			       ARRAY[CASE WHEN obj_description(i.indexrelid, 'pg_class') IS NOT NULL THEN
			           format('COMMENT ON INDEX %s IS %L', i.indexrelid::regclass, obj_description(i.indexrelid, 'pg_class')) END]
			FROM pg_index i
			WHERE i.indrelid IN (SELECT oid FROM t)
			  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
		) s
		ORDER BY drop_order, rel, name`, tables)
	if err != nil {
		return nil, fmt.Errorf("read the indexes and constraints: %w", err)
	}
	type def struct {
		drop, create string
		createOrder  int
		comments     []string
	}
	defs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (def, error) {
		var d def
		err := r.Scan(&d.drop, &d.create, &d.createOrder, &d.comments)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the indexes and constraints: %w", err)
	}
	d := &DeferredIndexes{}
	for order := 1; order <= 3; order++ {
		for _, def := range defs {
			if def.createOrder == order {
				d.Creates = append(d.Creates, def.create)
			}
		}
	}
	for _, def := range defs {
		d.Creates = append(d.Creates, def.comments...)
	}
	for _, def := range defs {
		if _, err := tx.Exec(ctx, def.drop); err != nil {
			return nil, fmt.Errorf("%s: %w", def.drop, err)
		}
	}
	return d, nil
}

// Restore recreates in tx what DropIndexes dropped.
func (d *DeferredIndexes) Restore(ctx context.Context, tx pgx.Tx) error {
	for _, q := range d.Creates {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

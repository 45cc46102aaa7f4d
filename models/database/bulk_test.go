package database_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/dbtest"
)

// TestDropIndexesRestoresTheSchema drops the indexes and constraints of two tables that use
// what the catalogue can say of them (a partial unique index, a storage parameter, a
// deferrable composite foreign key, comments, a reference from a third table), checks that
// only CHECK constraints are left, restores them, and checks that the schema is as before.
func TestDropIndexesRestoresTheSchema(t *testing.T) {
	t.Parallel()
	dsn, db := dbtest.NewOn(t, database.Postgres)
	if err := db.Exec(`
		CREATE TABLE a (id bigint PRIMARY KEY, k integer NOT NULL CHECK (k > 0), UNIQUE (id, k));
		CREATE TABLE b (id bigserial PRIMARY KEY, a_id bigint NOT NULL, k integer NOT NULL, flag boolean NOT NULL,
		    CONSTRAINT b_a_fkey FOREIGN KEY (a_id, k) REFERENCES a (id, k) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);
		CREATE INDEX b_k_idx ON b (k DESC, id) WITH (fillfactor = 70);
		CREATE UNIQUE INDEX b_one_flag_idx ON b (a_id) WHERE flag;
		CREATE TABLE c (a_id bigint REFERENCES a (id));
		COMMENT ON INDEX b_k_idx IS 'newest first';
		COMMENT ON CONSTRAINT b_a_fkey ON b IS 'the pair''s';
		COMMENT ON INDEX a_pkey IS 'the key';`).Error; err != nil {
		t.Fatal(err)
	}
	before := dbtest.Schema(t, db)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	deferred, err := database.DropIndexes(ctx, tx, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ALTER TABLE a ADD CONSTRAINT a_id_k_key UNIQUE (id, k)",
		"ALTER TABLE a ADD CONSTRAINT a_pkey PRIMARY KEY (id)",
		"ALTER TABLE b ADD CONSTRAINT b_pkey PRIMARY KEY (id)",
		"CREATE INDEX b_k_idx ON public.b USING btree (k DESC, id) WITH (fillfactor='70')",
		"CREATE UNIQUE INDEX b_one_flag_idx ON public.b USING btree (a_id) WHERE flag",
		"ALTER TABLE b ADD CONSTRAINT b_a_fkey FOREIGN KEY (a_id, k) REFERENCES a(id, k) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED",
		"ALTER TABLE c ADD CONSTRAINT c_a_id_fkey FOREIGN KEY (a_id) REFERENCES a(id)",
		"COMMENT ON CONSTRAINT b_a_fkey ON b IS 'the pair''s'",
		"COMMENT ON INDEX a_pkey IS 'the key'",
		"COMMENT ON INDEX b_k_idx IS 'newest first'",
	}
	if !slices.Equal(deferred.Creates, want) {
		t.Errorf("Creates:\n%q\nwant\n%q", deferred.Creates, want)
	}
	var left []string
	rows, err := tx.Query(ctx, `
		SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid IN ('a'::regclass, 'b'::regclass, 'c'::regclass)
		UNION ALL
		SELECT conname FROM pg_constraint WHERE conrelid IN ('a'::regclass, 'b'::regclass, 'c'::regclass)
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	if left, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(left, []string{"a_k_check"}) {
		t.Errorf("left after DropIndexes: %q, want only the CHECK constraint a_k_check", left)
	}
	if err := deferred.Restore(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if after := dbtest.Schema(t, db); !slices.Equal(after, before) {
		t.Errorf("schema after Restore:\n%s\nwant\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
}

package live

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partizap/vendor-inbox/models"
)

// NotifierApplicationName names the notifier's connection in pg_stat_activity.
const NotifierApplicationName = "vendor-inbox live notifier"

const (
	// SweepInterval is how often a Notifier looks for changes nobody woke it for: those of an
	// instance that died between its commit and its announcement, or of a wake-up lost with a
	// connection.
	SweepInterval = time.Second
	// BatchSize is the most changes one transaction of the Notifier deletes and announces.
	BatchSize = 500
	// batchTimeout bounds one batch, waiting for another instance's notifier included.
	batchTimeout = 5 * time.Second
	// SweepGap is the least time between the starts of two sweeps a wake-up asks for. A change
	// committed after a quiet spell is announced at once; under a stream of writes, those of the
	// next SweepGap are announced together. A sweep per commit (a transaction of five
	// statements) cost sendMessage a fifth of its throughput at 32 writers in one conversation;
	// delivery waits SweepGap at most for it.
	SweepGap = 10 * time.Millisecond
)

// NotifierLock is the key of the PostgreSQL advisory lock that lets one notifier at a time,
// cluster-wide, announce changes: so batches are announced in the order they were taken. It is
// fixed and arbitrary; no other lock of the service uses it (the migrations' is 8127364501).
const NotifierLock = 8127364502

// Notifier announces the changes the writes recorded in the outbox (models.Announcing.Outbox)
// on models.ChangesChannel, for every instance's Listen. Each instance runs one; any of them
// announces any instance's changes. In one transaction it takes NotifierLock, deletes the
// oldest BatchSize rows and NOTIFYs them in id order: the rows are gone if and only if they
// were announced, so a committed change is announced exactly once and an uncommitted one never.
//
// Order: the changes of one conversation are announced in their commit order. A write records
// its change while it holds the conversation's row lock, so a later write's row is inserted
// after the earlier write committed: it has the higher id, and any snapshot that sees it sees
// the earlier row too. Notifiers take turns under NotifierLock, each takes its snapshot once it
// holds the lock (READ COMMITTED: after the previous notifier committed) and announces in id
// order, and PostgreSQL delivers notifications in the order their transactions committed. The
// order of changes to different conversations is not kept.
//
// It uses a connection of its own, not the request pool: its announcements do not queue behind
// the requests whose writes they announce when the pool is busy, and its statements, which run
// on a clock, do not count as requests' statements (bff_db_queries_total).
type Notifier struct {
	cfg    *pgx.ConnConfig
	logger *slog.Logger
	wake   chan struct{}

	Stats NotifierStats
}

// NotifierStats count what a Notifier did, for metrics.
type NotifierStats struct {
	Announced     atomic.Int64 // changes announced
	Notifications atomic.Int64 // NOTIFYs sent: several changes each
	Failures      atomic.Int64 // sweeps that failed (retried at the next SweepInterval)
	// LagMicros is how long the change of the latest batch that waited longest waited in the
	// outbox, from the start of its write's transaction to the batch's delete, in microseconds.
	LagMicros atomic.Int64
}

// NewNotifier returns a Notifier for the database at databaseURL; Run runs it.
func NewNotifier(databaseURL string, logger *slog.Logger) (*Notifier, error) {
	cfg, err := connConfig(databaseURL, NotifierApplicationName)
	if err != nil {
		return nil, err
	}
	// A batch's commit need not wait for its WAL to reach the disk, where its flush would queue
	// with the writes' own (the bench's spread writes lost 8% instead of 17% with it off). What
	// a crash of PostgreSQL can lose is the deletion of rows already announced: they are
	// announced again after it, to subscribers who were told to reload (their listeners'
	// connections died with it), so an event may come twice then, and none is ever missed.
	cfg.RuntimeParams["synchronous_commit"] = "off"
	return &Notifier{cfg: cfg, logger: logger, wake: make(chan struct{}, 1)}, nil
}

// Wake tells the Notifier that a change was committed; it never blocks (models.Announcing.Recorded).
func (n *Notifier) Wake() {
	select {
	case n.wake <- struct{}{}:
	default: // awake already: its next sweep takes this change too
	}
}

// Run announces the outbox's changes at once, then whenever woken and every SweepInterval,
// until ctx ends. After a failure, logged, it waits for the next SweepInterval, so that writes
// waking it do not make it retry at their pace.
func (n *Notifier) Run(ctx context.Context) {
	ticker := time.NewTicker(SweepInterval)
	defer ticker.Stop()
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
	}()
	failures := 0 // in a row
	for {
		swept := time.Now()
		err := n.sweep(ctx, &conn)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			n.Stats.Failures.Add(1)
			if failures == 0 {
				n.logger.WarnContext(ctx, "live updates: announcing changes failed; retrying", "err", err, "retry_every", SweepInterval)
			}
			failures++
		case failures > 0:
			n.logger.InfoContext(ctx, "live updates: announcing changes again", "failed_sweeps", failures)
			failures = 0
		}
		wake := n.wake
		if failures > 0 {
			wake = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-wake:
			if wait := SweepGap - time.Since(swept); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
		}
	}
}

// sweep announces batches until the outbox is empty, connecting *conn first if needed; on an
// error it closes *conn, to connect afresh next time.
func (n *Notifier) sweep(ctx context.Context, conn **pgx.Conn) error {
	var err error
	if *conn == nil {
		if *conn, err = pgx.ConnectConfig(ctx, n.cfg); err != nil {
			return err
		}
	}
	for {
		var announced int
		announced, err = n.announceBatch(ctx, *conn)
		if err != nil || announced < BatchSize {
			break
		}
	}
	if err != nil {
		_ = (*conn).Close(context.Background())
		*conn = nil
	}
	return err
}

// announceBatch deletes and announces the oldest BatchSize changes of the outbox, in one
// transaction, and returns how many there were.
func (n *Notifier) announceBatch(ctx context.Context, conn *pgx.Conn) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, batchTimeout)
	defer cancel()
	// READ COMMITTED, the default, is what the order needs: the delete's snapshot is taken
	// after the lock is held, so it sees everything the previous notifier left.
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(context.Background()) }() // after Commit, nothing to do
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", NotifierLock); err != nil {
		return 0, err
	}
	type recorded struct {
		id     int64
		change models.Change
		waited float64 // seconds
	}
	rows, _ := tx.Query(ctx, `
		DELETE FROM live_changes
		WHERE id IN (SELECT id FROM live_changes ORDER BY id LIMIT $1 FOR UPDATE)
		RETURNING id, conversation_id, seller_id, message_id,
		          extract(epoch FROM statement_timestamp() - created_at)::float8`, BatchSize)
	batch, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (recorded, error) {
		var r recorded
		err := row.Scan(&r.id, &r.change.ConversationID, &r.change.SellerID, &r.change.MessageID, &r.waited)
		return r, err
	})
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	slices.SortFunc(batch, func(a, b recorded) int { return cmp.Compare(a.id, b.id) })
	changes := make([]models.Change, len(batch))
	var waited float64
	for i, r := range batch {
		changes[i], waited = r.change, max(waited, r.waited)
	}
	payloads := models.ChangePayloads(changes)
	notify := &pgx.Batch{}
	for _, p := range payloads {
		notify.Queue("SELECT pg_notify($1, $2)", models.ChangesChannel, p)
	}
	if err := tx.SendBatch(ctx, notify).Close(); err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	n.Stats.Announced.Add(int64(len(batch)))
	n.Stats.Notifications.Add(int64(len(payloads)))
	n.Stats.LagMicros.Store(int64(waited * 1e6))
	return len(batch), nil
}

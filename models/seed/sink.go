package seed

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/models"
)

// sink stores the rows the generator makes. The generator hands it each table's rows in id
// order, every parent before its children, in as many calls as it likes, all inside the one
// transaction Seed runs; a sink must not keep a slice after its call returns, since the
// generator reuses them. The rows are the same whichever sink stores them: only the statements
// differ.
type sink interface {
	users([]models.User) error
	products([]models.Product) error
	images([]models.ProductImage) error
	conversations([]models.Conversation) error
	participants([]models.Participant) error
	messages([]models.Message) error
}

// gormSink inserts through GORM, in multi-row INSERTs of sqliteBatch rows: SQLite's sink.
type gormSink struct{ tx *gorm.DB }

func (s gormSink) users(rows []models.User) error       { return insert(s.tx, "users", rows) }
func (s gormSink) products(rows []models.Product) error { return insert(s.tx, "products", rows) }
func (s gormSink) images(rows []models.ProductImage) error {
	return insert(s.tx, "product_images", rows)
}
func (s gormSink) conversations(rows []models.Conversation) error {
	return insert(s.tx, "conversations", rows)
}
func (s gormSink) participants(rows []models.Participant) error {
	return insert(s.tx, "conversation_participants", rows)
}
func (s gormSink) messages(rows []models.Message) error { return insert(s.tx, "messages", rows) }

func insert[T any](tx *gorm.DB, table string, rows []T) error {
	if len(rows) == 0 {
		return nil
	}
	if err := tx.CreateInBatches(rows, sqliteBatch).Error; err != nil {
		return fmt.Errorf("insert %s: %w", table, err)
	}
	return nil
}

// copySink streams rows into PostgreSQL with COPY … FROM STDIN (FORMAT binary, FREEZE), one
// COPY per table and call: PostgreSQL's sink. It encodes the rows itself (copyBuf), since
// pgx's encoder, which takes any value, took as much CPU as the generator; and it writes the
// columns listed below, which must be every column GORM writes for the model, in that order and
// with these types (TestCopyColumnsAreTheModels checks the names, the cross-dialect test the
// values). FREEZE needs the tables truncated in the transaction (loadPostgres does): the rows
// are then stored frozen and visible to all, so that neither the index builds nor VACUUM
// rewrite every page to mark them so. At the load test's size the two took the process's CPU
// from 18 s to 9 s, the index builds from 25 s to 18 s and VACUUM from 4-6 s to 2 s.
type copySink struct {
	ctx context.Context
	tx  pgx.Tx
	buf copyBuf
}

var (
	userColumns         = models.Columns(&models.User{})
	productColumns      = models.Columns(&models.Product{})
	imageColumns        = models.Columns(&models.ProductImage{})
	conversationColumns = models.Columns(&models.Conversation{})
	participantColumns  = []string{"conversation_id", "user_id", "joined_at"}
	messageColumns      = models.Columns(&models.Message{})
)

func (s *copySink) users(rows []models.User) error {
	return copyRows(s, "users", userColumns, rows, func(b *copyBuf, u *models.User) {
		b.int8(u.ID)
		b.text(u.DisplayName)
		b.textOrNull(u.AvatarURL)
		b.int8OrNull(u.CityID)
		b.numeric(u.Rating)
		b.int4(u.ReviewsCount)
		b.int4(u.ProductsCount)
		b.timestamptz(u.CreatedAt)
	})
}

func (s *copySink) products(rows []models.Product) error {
	return copyRows(s, "products", productColumns, rows, func(b *copyBuf, p *models.Product) {
		b.int8(p.ID)
		b.int8(p.SellerID)
		b.text(p.Title)
		b.int8(p.Price)
		b.textOrNull(p.Steering)
		b.int8(p.CityID)
		b.int8(p.RegionID)
		b.int8OrNull(p.DistrictID)
		b.int8OrNull(p.MetroStationID)
		b.int4OrNull(p.MetroDistanceM)
		b.textOrNull(p.AddressID)
		b.timestamptzOrNull(p.PublishedAt)
		b.timestamptz(p.CreatedAt)
	})
}

func (s *copySink) images(rows []models.ProductImage) error {
	return copyRows(s, "product_images", imageColumns, rows, func(b *copyBuf, i *models.ProductImage) {
		b.int8(i.ID)
		b.int8(i.ProductID)
		b.text(i.ThumbnailWebp)
		b.text(i.ThumbnailJpeg)
		b.text(i.MediumWebp)
		b.text(i.MediumJpeg)
		b.text(i.LargeWebp)
		b.text(i.LargeJpeg)
		b.text(i.Status)
		b.bool(i.IsPrimary)
		b.int4(i.SortOrder)
	})
}

func (s *copySink) conversations(rows []models.Conversation) error {
	return copyRows(s, "conversations", conversationColumns, rows, func(b *copyBuf, c *models.Conversation) {
		b.int8(c.ID)
		b.int8(c.ProductID)
		b.int8(c.SellerID)
		b.timestamptz(c.CreatedAt)
		b.timestamptz(c.UpdatedAt)
		b.int4(c.SellerUnreadCount)
	})
}

func (s *copySink) participants(rows []models.Participant) error {
	return copyRows(s, "conversation_participants", participantColumns, rows, func(b *copyBuf, p *models.Participant) {
		b.int8(p.ConversationID)
		b.int8(p.UserID)
		b.timestamptz(p.JoinedAt)
	})
}

func (s *copySink) messages(rows []models.Message) error {
	return copyRows(s, "messages", messageColumns, rows, func(b *copyBuf, m *models.Message) {
		b.int8(m.ID)
		b.int8(m.ConversationID)
		b.int8(m.SenderID)
		b.textOrNull(m.Text)
		b.textOrNull(m.ImageURL)
		b.bool(m.IsRead)
		b.bool(m.IsDelivered)
		b.timestamptz(m.CreatedAt)
		b.textOrNull(m.ClientMutationID)
	})
}

// copyRows COPYs rows into table, each encoded by encode as its columns' values in order.
func copyRows[T any](s *copySink, table string, columns []string, rows []T, encode func(*copyBuf, *T)) error {
	if len(rows) == 0 {
		return nil
	}
	s.buf.begin(s.tx.Conn().TypeMap())
	for i := range rows {
		s.buf.row(len(columns))
		encode(&s.buf, &rows[i])
	}
	payload, err := s.buf.end()
	if err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	cols := make([]string, len(columns))
	for i, c := range columns {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	sql := "COPY " + pgx.Identifier{table}.Sanitize() + " (" + strings.Join(cols, ", ") + ") FROM STDIN (FORMAT binary, FREEZE)"
	tag, err := s.tx.Conn().PgConn().CopyFrom(s.ctx, bytes.NewReader(payload), sql)
	if err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	if n := tag.RowsAffected(); n != int64(len(rows)) {
		return fmt.Errorf("copy into %s: %d rows of %d", table, n, len(rows))
	}
	return nil
}

// copyBuf builds the data of a COPY … (FORMAT binary): a header, then per row the number of
// fields and each field's length and bytes in network order (-1 for NULL), then -1. The types
// are PostgreSQL's binary send formats of the columns.
type copyBuf struct {
	b   []byte
	err error // the first value that does not fit its column
	// types encodes numeric, the one type whose binary form takes more than a few lines: the
	// connection's, which only the goroutine using the connection may use.
	types *pgtype.Map
}

// pgEpoch is where timestamptz counts its microseconds from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func (c *copyBuf) begin(types *pgtype.Map) {
	c.types = types
	c.b = append(c.b[:0], "PGCOPY\n\377\r\n\000"...)
	c.b = binary.BigEndian.AppendUint32(c.b, 0) // flags
	c.b = binary.BigEndian.AppendUint32(c.b, 0) // header extension length
	c.err = nil
}

func (c *copyBuf) end() ([]byte, error) {
	c.b = binary.BigEndian.AppendUint16(c.b, 0xffff)
	return c.b, c.err
}

func (c *copyBuf) row(fields int) { c.b = binary.BigEndian.AppendUint16(c.b, uint16(fields)) }
func (c *copyBuf) null()          { c.b = binary.BigEndian.AppendUint32(c.b, 0xffffffff) }

func (c *copyBuf) int8(v int64) {
	c.b = binary.BigEndian.AppendUint32(c.b, 8)
	c.b = binary.BigEndian.AppendUint64(c.b, uint64(v))
}

func (c *copyBuf) int4(v int) {
	if v < math.MinInt32 || v > math.MaxInt32 {
		c.err = cmp.Or(c.err, fmt.Errorf("%d does not fit an integer column", v))
	}
	c.b = binary.BigEndian.AppendUint32(c.b, 4)
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(int32(v)))
}

func (c *copyBuf) text(s string) {
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(s)))
	c.b = append(c.b, s...)
}

func (c *copyBuf) bool(v bool) {
	c.b = binary.BigEndian.AppendUint32(c.b, 1)
	if v {
		c.b = append(c.b, 1)
	} else {
		c.b = append(c.b, 0)
	}
}

func (c *copyBuf) timestamptz(t time.Time) {
	c.b = binary.BigEndian.AppendUint32(c.b, 8)
	c.b = binary.BigEndian.AppendUint64(c.b, uint64(t.Sub(pgEpoch).Microseconds()))
}

func (c *copyBuf) numeric(s string) {
	at := len(c.b)
	c.b = append(c.b, 0, 0, 0, 0) // the length, once known
	var n pgtype.Numeric
	err := n.Scan(s)
	if err == nil {
		var b []byte
		if b, err = c.types.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, n, c.b); err == nil {
			c.b = b
		}
	}
	if err != nil {
		c.err = cmp.Or(c.err, fmt.Errorf("numeric %q: %w", s, err))
	}
	binary.BigEndian.PutUint32(c.b[at:], uint32(len(c.b)-at-4))
}

func (c *copyBuf) textOrNull(s *string) {
	if s == nil {
		c.null()
		return
	}
	c.text(*s)
}

func (c *copyBuf) int8OrNull(v *int64) {
	if v == nil {
		c.null()
		return
	}
	c.int8(*v)
}

func (c *copyBuf) int4OrNull(v *int) {
	if v == nil {
		c.null()
		return
	}
	c.int4(*v)
}

func (c *copyBuf) timestamptzOrNull(t *time.Time) {
	if t == nil {
		c.null()
		return
	}
	c.timestamptz(*t)
}

// withPgx runs f on one connection of db's pool, as the pgx connection underneath (database.Open
// opens PostgreSQL through pgx's database/sql driver), for what database/sql cannot do: COPY.
// f must leave no transaction open; the connection then returns to the pool.
func withPgx(ctx context.Context, db *gorm.DB, f func(*pgx.Conn) error) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("PostgreSQL through %T, want pgx's database/sql driver (stdlib)", driverConn)
		}
		return f(c.Conn())
	})
}

// pipeSink hands each call's rows, copied, to a goroutine that stores them with next, so that
// the generator makes the next rows while the database takes these: the Go side's work (making
// and encoding rows) and PostgreSQL's then overlap instead of taking turns (at the load test's
// size the COPYs took 20 s so, 24 s without). Calls are stored in order; at most pipeDepth
// wait. close must be called, and is the only way to learn whether the last calls were stored.
type pipeSink struct {
	next sink
	work chan func() error
	done chan struct{} // closed when the goroutine has stopped
	err  error         // its first error, set before done is closed
}

// pipeDepth is how many calls may wait: two flushes' worth, so that a whole flush can be made
// while the one before is stored.
const pipeDepth = 10

func newPipeSink(next sink) *pipeSink {
	p := &pipeSink{next: next, work: make(chan func() error, pipeDepth), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for f := range p.work {
			if err := f(); err != nil {
				p.err = err
				return
			}
		}
	}()
	return p
}

// send queues f, unless the goroutine has stopped on an error, which it then returns.
func (p *pipeSink) send(f func() error) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	select {
	case p.work <- f:
		return nil
	case <-p.done:
		return p.err
	}
}

// close waits for the queued calls to be stored and returns the first error.
func (p *pipeSink) close() error {
	close(p.work)
	<-p.done
	return p.err
}

func (p *pipeSink) users(rows []models.User) error {
	rows = slices.Clone(rows)
	return p.send(func() error { return p.next.users(rows) })
}

func (p *pipeSink) products(rows []models.Product) error {
	rows = slices.Clone(rows)
	return p.send(func() error { return p.next.products(rows) })
}

func (p *pipeSink) images(rows []models.ProductImage) error {
	rows = slices.Clone(rows)
	return p.send(func() error { return p.next.images(rows) })
}

func (p *pipeSink) conversations(rows []models.Conversation) error {
	rows = slices.Clone(rows)
	return p.send(func() error { return p.next.conversations(rows) })
}

func (p *pipeSink) participants(rows []models.Participant) error {
	rows = slices.Clone(rows)
	return p.send(func() error { return p.next.participants(rows) })
}

func (p *pipeSink) messages(rows []models.Message) error {
	rows = slices.Clone(rows)
	return p.send(func() error { return p.next.messages(rows) })
}

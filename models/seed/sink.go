package seed

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
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

// copySink streams rows into PostgreSQL with COPY … FROM STDIN (binary), one COPY per table
// and call: PostgreSQL's sink. It writes the columns listed below, which must be every column
// GORM writes for the model (TestCopyColumnsAreTheModels checks the names, the cross-dialect
// test the values).
type copySink struct {
	ctx context.Context
	tx  pgx.Tx
}

var (
	userColumns    = []string{"id", "display_name", "avatar_url", "city_id", "rating", "reviews_count", "products_count", "created_at"}
	productColumns = []string{"id", "seller_id", "title", "price", "steering", "city_id", "region_id", "district_id",
		"metro_station_id", "metro_distance_m", "address_id", "published_at", "created_at"}
	imageColumns = []string{"id", "product_id", "thumbnail_webp", "thumbnail_jpeg", "medium_webp", "medium_jpeg",
		"large_webp", "large_jpeg", "status", "is_primary", "sort_order"}
	conversationColumns = []string{"id", "product_id", "seller_id", "created_at", "updated_at"}
	participantColumns  = []string{"conversation_id", "user_id", "joined_at"}
	messageColumns      = []string{"id", "conversation_id", "sender_id", "text", "image_url", "is_read", "is_delivered", "created_at"}
)

func (s *copySink) users(rows []models.User) error {
	return copyRows(s, "users", userColumns, rows, func(u *models.User, v []any) []any {
		return append(v, u.ID, u.DisplayName, u.AvatarURL, u.CityID, u.Rating, u.ReviewsCount, u.ProductsCount, u.CreatedAt)
	})
}

func (s *copySink) products(rows []models.Product) error {
	return copyRows(s, "products", productColumns, rows, func(p *models.Product, v []any) []any {
		return append(v, p.ID, p.SellerID, p.Title, p.Price, p.Steering, p.CityID, p.RegionID, p.DistrictID,
			p.MetroStationID, p.MetroDistanceM, p.AddressID, p.PublishedAt, p.CreatedAt)
	})
}

func (s *copySink) images(rows []models.ProductImage) error {
	return copyRows(s, "product_images", imageColumns, rows, func(i *models.ProductImage, v []any) []any {
		return append(v, i.ID, i.ProductID, i.ThumbnailWebp, i.ThumbnailJpeg, i.MediumWebp, i.MediumJpeg,
			i.LargeWebp, i.LargeJpeg, i.Status, i.IsPrimary, i.SortOrder)
	})
}

func (s *copySink) conversations(rows []models.Conversation) error {
	return copyRows(s, "conversations", conversationColumns, rows, func(c *models.Conversation, v []any) []any {
		return append(v, c.ID, c.ProductID, c.SellerID, c.CreatedAt, c.UpdatedAt)
	})
}

func (s *copySink) participants(rows []models.Participant) error {
	return copyRows(s, "conversation_participants", participantColumns, rows, func(p *models.Participant, v []any) []any {
		return append(v, p.ConversationID, p.UserID, p.JoinedAt)
	})
}

func (s *copySink) messages(rows []models.Message) error {
	return copyRows(s, "messages", messageColumns, rows, func(m *models.Message, v []any) []any {
		return append(v, m.ID, m.ConversationID, m.SenderID, m.Text, m.ImageURL, m.IsRead, m.IsDelivered, m.CreatedAt)
	})
}

// copyRows COPYs rows into table. pgx encodes each row's values before it asks for the next
// row, so one slice of values serves every row.
func copyRows[T any](s *copySink, table string, columns []string, rows []T, values func(*T, []any) []any) error {
	if len(rows) == 0 {
		return nil
	}
	v := make([]any, 0, len(columns))
	n, err := s.tx.CopyFrom(s.ctx, pgx.Identifier{table}, columns, pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
		v = values(&rows[i], v[:0])
		return v, nil
	}))
	if err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	if n != int64(len(rows)) {
		return fmt.Errorf("copy into %s: %d rows of %d", table, n, len(rows))
	}
	return nil
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

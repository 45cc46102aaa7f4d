// Package seed fills an empty vendor-inbox database with realistic demo data: car-parts vendors,
// a pool of buyers, the vendors' listings with their images, and conversations about those
// listings with their messages.
//
// Demo stands, load tests and UI work need an inbox that looks real (Russian names and texts,
// unread counts, drafts, missing avatars, ties in the inbox order) and that is the same on every
// machine, so every row derives from Options alone: the same options give byte-identical rows,
// ids included. The generator therefore uses integer arithmetic only (float results may differ
// between architectures) and never reads the clock. The rows are the same on PostgreSQL and on
// SQLite: one generator makes them, and only the sink that stores them depends on the dialect
// (COPY on PostgreSQL, batched INSERTs on SQLite; see sink.go).
package seed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
)

// Options says how much data to generate and from which seed. Timestamps are whole seconds in
// UTC, so Now is truncated to the second.
type Options struct {
	Vendors       int // number of sellers
	Conversations int // conversations per vendor
	// BusiestConversations, when greater than Conversations, is the number of conversations of
	// vendor 1 instead, so that one inbox is far longer than the others (the heavy case of
	// paging and counting). Zero, or anything up to Conversations, changes nothing.
	BusiestConversations int
	Messages             int       // messages per conversation (>= 0)
	Seed                 int64     // PRNG seed; same options => byte-identical data
	Now                  time.Time // the "current" time; all timestamps are at or before it. Zero means 2026-11-20T12:00:00Z.

	// Progress, when not nil, receives a line about every tenth of the conversations written,
	// with the rows written so far and the rate. It has no effect on the data.
	Progress io.Writer
}

// Summary counts the rows Seed inserted, and says how long that took.
type Summary struct {
	Users           int64 `json:"users"`
	Vendors         int64 `json:"vendors"`
	Buyers          int64 `json:"buyers"`
	Products        int64 `json:"products"`
	ProductImages   int64 `json:"product_images"`
	Conversations   int64 `json:"conversations"`
	Participants    int64 `json:"participants"`
	Messages        int64 `json:"messages"`
	UnreadMessages  int64 `json:"unread_messages"`
	BusiestVendorID int64 `json:"busiest_vendor_id"` // vendor with most conversations; ties -> lowest id

	// DurationSeconds is the wall time of the load: from the start of the transaction to its
	// commit, generation and (on PostgreSQL) the index builds included. RowsPerSecond is Rows()
	// over it.
	DurationSeconds float64 `json:"duration_seconds"`
	RowsPerSecond   float64 `json:"rows_per_second"`
	// VacuumSeconds is the wall time of the statistics collection after the commit
	// (PostgreSQL's VACUUM (ANALYZE), SQLite's ANALYZE), which the load's time excludes.
	VacuumSeconds float64 `json:"vacuum_seconds"`
}

// Rows is the number of rows inserted, over all tables.
func (s Summary) Rows() int64 {
	return s.Users + s.Products + s.ProductImages + s.Conversations + s.Participants + s.Messages
}

// Counts is s without its timings: what the options and the seed alone decide.
func (s Summary) Counts() Summary {
	s.DurationSeconds, s.RowsPerSecond, s.VacuumSeconds = 0, 0, 0
	return s
}

// ErrNotEmpty is returned when the database already has users: seeding relies on explicit ids
// starting at 1, and mixing demo rows into real ones would be worse than refusing.
var ErrNotEmpty = errors.New("seed: the database is not empty; seed only fills an empty one")

// Limits on Options. They bound the run time (the generator's memory is bounded by flushRows
// whatever the options, plus a vendor's listings), and keep every product of two options far
// from overflowing. 200 vendors × 1,000 conversations × 20 messages with a busiest vendor of
// 50,000 conversations (249,000 conversations, 4,980,000 messages) is well inside them.
const (
	maxVendors                 = 100_000
	maxConversations           = 1_000_000 // in all: Vendors × Conversations, with the busiest vendor's
	maxMessagesPerConversation = 10_000
	maxMessages                = 10_000_000 // in all: conversations in all × Messages
)

const (
	// sqliteBatch rows go in one INSERT on SQLite: 1300 bind parameters at most, far below its
	// 32766. Fewer than on PostgreSQL because a statement costs no round trip there while the
	// driver (glebarez/go-sqlite) binds a statement's parameters in quadratic time: it looks each
	// one up among all of them. 100-row statements seed 100,000 messages 2.3 times faster than
	// 1000-row ones, 7 times faster under the race detector.
	sqliteBatch = 100
	// flushRows is how many generated rows are held before they are inserted.
	flushRows = 20_000
	// tieEvery: every tieEvery-th conversation of a vendor gets the updated_at of the one before,
	// so every inbox of at least tieEvery conversations needs its id tie-break.
	tieEvery = 7
	// pcgStream is the PCG's second word; fixed, since only Options.Seed may change the data.
	pcgStream = 0x5eed_da7a_5eed_da7a
)

// defaultNow stands in for a zero Options.Now: the clock would make the data differ per run.
var defaultNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// Seed fills db, which must be migrated and have no users, with the data opts describe, all in
// one transaction, and returns the counts of what it inserted and how long that took. It returns
// ErrNotEmpty when db already has users, and an error naming the field when opts are out of
// range.
//
// Every row gets an explicit id, 1..n per table in creation order, and rows inserted later
// number on from there: PostgreSQL's sequences are moved past them, SQLite's INTEGER PRIMARY KEY
// continues from max(id) by itself.
//
// On PostgreSQL the rows are streamed with COPY over one connection of db's pool, into the
// tables stripped of their indexes, keys and foreign keys, which are rebuilt after the rows
// exactly as the migrations define them (read from the catalogue before they are dropped); and the
// service's statement_timeout is lifted for Seed's own statements: a bulk load's statements,
// its wait for a concurrent Seed and the VACUUM after it may take far longer than a request's.
// For the same reason its statements are not bounded by database.DBOptions.Timeout.
func Seed(ctx context.Context, db *gorm.DB, opts Options) (Summary, error) {
	if err := opts.validate(); err != nil {
		return Summary{}, err
	}
	ctx = database.WithoutTimeout(ctx)
	g := newGenerator(opts)
	load, analyze := loadSQLite, analyzeSQLite
	if database.Dialect(db) == database.Postgres {
		load, analyze = loadPostgres, analyzePostgres
	}
	g.start = time.Now()
	if err := load(ctx, db, g); err != nil {
		if errors.Is(err, ErrNotEmpty) {
			return Summary{}, err
		}
		return Summary{}, fmt.Errorf("seed: %w", err)
	}
	loaded := time.Since(g.start)
	g.sum.DurationSeconds = roundSeconds(loaded)
	g.sum.RowsPerSecond = math.Round(float64(g.sum.Rows()) / max(loaded.Seconds(), 1e-9))
	g.report("committed %d rows in %.1fs (%.0f rows/s); collecting statistics", g.sum.Rows(), loaded.Seconds(), g.sum.RowsPerSecond)

	// Collect the statistics the query planner needs; the data is committed either way.
	//
	// PostgreSQL: autovacuum is off on this server, so nothing else would ever collect statistics
	// for the freshly filled tables, and the planner, believing them empty, would pick plans
	// (sequential scans, nested loops) that are wrong at this size; VACUUM also fills the
	// visibility map that index-only scans need. It cannot run inside a transaction.
	//
	// SQLite: nothing collects statistics automatically either; without sqlite_stat1 the planner
	// guesses every table's size and the selectivity of every index, and with several candidate
	// indexes per table (the inbox, unread and participant indexes) it can pick the wrong one.
	// ANALYZE fills sqlite_stat1. (SQLite's VACUUM only rebuilds the file, which a fresh one does
	// not need.)
	vacuumStart := time.Now()
	err := analyze(ctx, db)
	g.sum.VacuumSeconds = roundSeconds(time.Since(vacuumStart))
	if err != nil {
		return g.sum, fmt.Errorf("seed: analyze the seeded tables: %w", err)
	}
	g.report("statistics collected in %.1fs", time.Since(vacuumStart).Seconds())
	return g.sum, nil
}

// roundSeconds is d in seconds, to the microsecond.
func roundSeconds(d time.Duration) float64 { return math.Round(d.Seconds()*1e6) / 1e6 }

// loadSQLite inserts the rows with GORM in one transaction, after checking that the database is
// empty.
func loadSQLite(ctx context.Context, db *gorm.DB, g *generator) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Two concurrent Seeds would both find users empty and then collide on ids. database.Open's
		// DSN makes every transaction BEGIN IMMEDIATE (_txlock=immediate), which takes the
		// database's write lock before the check below, so the second Seed waits in BEGIN
		// (busy_timeout) and then reads the first one's users. An INTEGER PRIMARY KEY (the rowid)
		// takes max(id)+1 when inserted without one, so there is no sequence to move afterwards.
		var hasUsers bool
		if err := tx.Raw("SELECT EXISTS (SELECT 1 FROM users)").Scan(&hasUsers).Error; err != nil {
			return fmt.Errorf("check that the database is empty: %w", err)
		}
		if hasUsers {
			return ErrNotEmpty
		}
		return g.run(gormSink{tx})
	})
}

func analyzeSQLite(ctx context.Context, db *gorm.DB) error {
	return db.WithContext(ctx).Exec("ANALYZE").Error
}

// seededTables are the tables Seed fills, parents first.
var seededTables = []string{"users", "products", "product_images", "conversations", "conversation_participants", "messages"}

// maintenanceWorkMem is the memory the index builds of the PostgreSQL load may sort in. At the
// load test's size they took 16 s with it, 22 s with the server's default of 64MB, and no less
// with 1GB.
const maintenanceWorkMem = "256MB"

// loadPostgres streams the rows with COPY in one transaction on one connection, after locking
// users and checking that the database is empty, with the tables' indexes and foreign keys
// dropped until the rows are in (database.DropIndexes), and then moves the id sequences past
// them. The generator runs ahead of the COPYs in a goroutine of its own (pipeSink), so that
// making rows and storing them overlap.
func loadPostgres(ctx context.Context, db *gorm.DB, g *generator) error {
	return withPgx(ctx, db, func(conn *pgx.Conn) error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		// A no-op after Commit. Should ctx be canceled mid-COPY, pgx closes the connection
		// instead, which aborts the transaction as well (and the pool drops the connection).
		defer func() { _ = tx.Rollback(ctx) }()
		// Reverted at the end of the transaction.
		if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
			return err
		}
		// Two concurrent Seeds would both find users empty and then collide on ids; with the
		// lock the second waits, then sees the first one's users and returns ErrNotEmpty.
		if _, err := tx.Exec(ctx, "LOCK TABLE users IN EXCLUSIVE MODE"); err != nil {
			return fmt.Errorf("lock users: %w", err)
		}
		var hasUsers bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM users)").Scan(&hasUsers); err != nil {
			return fmt.Errorf("check that the database is empty: %w", err)
		}
		if hasUsers {
			return ErrNotEmpty
		}
		// The tables are empty and stay locked until the commit, so their indexes and foreign
		// keys can wait for the rows: built once from them, not maintained row by row.
		if _, err := tx.Exec(ctx, "SET LOCAL maintenance_work_mem = '"+maintenanceWorkMem+"'"); err != nil {
			return err
		}
		deferred, err := database.DropIndexes(ctx, tx, seededTables)
		if err != nil {
			return err
		}
		// COPY FREEZE (copySink) needs the tables truncated or created in the transaction; empty,
		// and with no foreign key left to refer to them, they truncate in an instant. (Frozen rows
		// are visible even to snapshots older than the commit, which in an empty database no one
		// can be relying on.)
		if _, err := tx.Exec(ctx, "TRUNCATE "+strings.Join(seededTables, ", ")); err != nil {
			return err
		}
		p := newPipeSink(&copySink{ctx: ctx, tx: tx})
		err = g.run(p)
		if closeErr := p.close(); err == nil {
			err = closeErr
		}
		if err != nil {
			return err
		}
		g.report("%d rows copied in %.1fs; building the indexes and checking the foreign keys", g.written, time.Since(g.start).Seconds())
		if err := deferred.Restore(ctx, tx); err != nil {
			return err
		}
		if err := resetSequences(ctx, tx); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}

func analyzePostgres(ctx context.Context, db *gorm.DB) error {
	return withPgx(ctx, db, func(conn *pgx.Conn) error {
		// VACUUM runs outside a transaction, so SET LOCAL cannot lift the timeout; RESET puts
		// the connection's own setting back before it returns to the pool.
		if _, err := conn.Exec(ctx, "SET statement_timeout = 0"); err != nil {
			return err
		}
		_, err := conn.Exec(ctx, "VACUUM (ANALYZE) users, products, product_images, conversations, conversation_participants, messages")
		if _, resetErr := conn.Exec(ctx, "RESET statement_timeout"); err == nil {
			err = resetErr
		}
		return err
	})
}

// resetSequences moves each bigserial sequence past the explicit ids Seed inserted. The
// three-argument setval makes the next id MAX(id)+1, and 1 for a table left empty. PostgreSQL
// only.
func resetSequences(ctx context.Context, tx pgx.Tx) error {
	for _, table := range []string{"users", "products", "product_images", "conversations", "messages"} {
		q := fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%[1]s', 'id'), (SELECT COALESCE(MAX(id), 0) + 1 FROM %[1]s), false)", table)
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("reset the id sequence of %s: %w", table, err)
		}
	}
	return nil
}

func (o Options) validate() error {
	switch {
	case o.Vendors < 1:
		return fmt.Errorf("seed: Vendors must be at least 1, got %d", o.Vendors)
	case o.Vendors > maxVendors:
		return fmt.Errorf("seed: Vendors must be at most %d, got %d", maxVendors, o.Vendors)
	case o.Conversations < 0:
		return fmt.Errorf("seed: Conversations must not be negative, got %d", o.Conversations)
	case o.BusiestConversations < 0:
		return fmt.Errorf("seed: BusiestConversations must not be negative, got %d", o.BusiestConversations)
	case o.Messages < 0:
		return fmt.Errorf("seed: Messages must not be negative, got %d", o.Messages)
	case o.Messages > maxMessagesPerConversation:
		return fmt.Errorf("seed: Messages must be at most %d per conversation, got %d", maxMessagesPerConversation, o.Messages)
	case o.Conversations > maxConversations || int64(o.Vendors)*int64(o.Conversations) > maxConversations:
		return fmt.Errorf("seed: Vendors × Conversations must be at most %d, got %d × %d", maxConversations, o.Vendors, o.Conversations)
	case o.BusiestConversations > maxConversations || o.totalConversations() > maxConversations:
		return fmt.Errorf("seed: conversations in all, with BusiestConversations %d for vendor 1, must be at most %d, got %d",
			o.BusiestConversations, maxConversations, o.totalConversations())
	case o.totalConversations()*int64(o.Messages) > maxMessages:
		if o.BusiestConversations <= o.Conversations {
			return fmt.Errorf("seed: Vendors × Conversations × Messages must be at most %d, got %d × %d × %d",
				maxMessages, o.Vendors, o.Conversations, o.Messages)
		}
		return fmt.Errorf("seed: messages in all, with BusiestConversations %d for vendor 1, must be at most %d, got %d",
			o.BusiestConversations, maxMessages, o.totalConversations()*int64(o.Messages))
	}
	return nil
}

// conversationsOf is the number of conversations of the vendor with index i (id i+1).
func (o Options) conversationsOf(i int) int {
	if i == 0 && o.BusiestConversations > o.Conversations {
		return o.BusiestConversations
	}
	return o.Conversations
}

// totalConversations is the number of conversations of all vendors. Callers bound Vendors,
// Conversations and BusiestConversations first, so it cannot overflow.
func (o Options) totalConversations() int64 {
	return int64(o.Vendors-1)*int64(o.Conversations) + int64(o.conversationsOf(0))
}

// generator makes the rows. Each table's count in sum is also the last id given out in it.
type generator struct {
	opts   Options
	now    time.Time
	rng    *rand.Rand
	buyers []models.User
	batch  batch
	sum    Summary

	// What the sink has been given so far, for the progress lines.
	start         time.Time
	written       int64 // rows
	writtenConvs  int64 // conversations
	reportedTenth int64 // the last tenth of the conversations reported
}

func newGenerator(opts Options) *generator {
	now := defaultNow
	if !opts.Now.IsZero() {
		now = opts.Now.UTC().Truncate(time.Second)
	}
	return &generator{opts: opts, now: now, rng: rand.New(rand.NewPCG(uint64(opts.Seed), pcgStream))}
}

// listing is what the conversations of a vendor need to know about one of their products.
type listing struct {
	id, sellerID int64
	title        string
	price        int64
	// since is when buyers could first write about it: its publication, or its creation when
	// it has none (a listing withdrawn since; conversations about it stay).
	since time.Time
	// buyers holds the indexes in g.buyers of those already writing about it: a buyer has one
	// conversation per listing.
	buyers []int
}

// listingsFor is the number of listings of a vendor with n conversations: one per three.
func listingsFor(n int) int { return max(1, (n+2)/3) }

// run generates every row and hands it to s, in id order, parents first.
func (g *generator) run(s sink) error {
	vendors := make([]models.User, g.opts.Vendors)
	for i := range vendors {
		vendors[i] = g.vendor(int64(i+1), listingsFor(g.opts.conversationsOf(i)))
	}
	g.buyers = make([]models.User, max(3, 2*g.opts.Vendors))
	for i := range g.buyers {
		g.buyers[i] = g.buyer(int64(len(vendors) + i + 1))
	}
	if err := s.users(vendors); err != nil {
		return err
	}
	if err := s.users(g.buyers); err != nil {
		return err
	}
	g.sum.Vendors, g.sum.Buyers = int64(len(vendors)), int64(len(g.buyers))
	g.sum.Users = g.sum.Vendors + g.sum.Buyers
	g.written = g.sum.Users
	// Every vendor gets the same number of conversations but the first, who may get more, so
	// the tie rule picks the first either way.
	g.sum.BusiestVendorID = vendors[0].ID

	for i := range vendors {
		if err := g.flushIfFull(s); err != nil {
			return err
		}
		listings := make([]listing, listingsFor(g.opts.conversationsOf(i)))
		for k := range listings {
			listings[k] = g.product(&vendors[i])
		}
		// Round robin: each listing gets at most three conversations, each with another buyer.
		for j := range g.opts.conversationsOf(i) {
			tie := j%tieEvery == tieEvery-1
			// A tie may move its predecessor, which must therefore still be in the batch.
			if !tie {
				if err := g.flushIfFull(s); err != nil {
					return err
				}
			}
			g.conversation(&listings[j%len(listings)], tie)
		}
	}
	return g.flush(s)
}

func (g *generator) flushIfFull(s sink) error {
	if g.batch.rows() < flushRows {
		return nil
	}
	return g.flush(s)
}

// flush hands the batch to s, parents first, as the foreign keys need, and empties it.
func (g *generator) flush(s sink) error {
	b := &g.batch
	if err := s.products(b.products); err != nil {
		return err
	}
	if err := s.images(b.images); err != nil {
		return err
	}
	if err := s.conversations(b.conversations); err != nil {
		return err
	}
	if err := s.participants(b.participants); err != nil {
		return err
	}
	if err := s.messages(b.messages); err != nil {
		return err
	}
	g.written += int64(b.rows())
	g.writtenConvs += int64(len(b.conversations))
	*b = batch{products: b.products[:0], images: b.images[:0], conversations: b.conversations[:0],
		participants: b.participants[:0], messages: b.messages[:0]}
	g.progress()
	return nil
}

// progress reports each tenth of the conversations written, once.
func (g *generator) progress() {
	total := g.opts.totalConversations()
	if g.opts.Progress == nil || total == 0 {
		return
	}
	tenth := g.writtenConvs * 10 / total
	if tenth <= g.reportedTenth {
		return
	}
	g.reportedTenth = tenth
	elapsed := time.Since(g.start).Seconds()
	g.report("%3d%%: %d of %d conversations, %d rows in %.1fs (%.0f rows/s)",
		g.writtenConvs*100/total, g.writtenConvs, total, g.written, elapsed, float64(g.written)/max(elapsed, 1e-9))
}

// report writes a line to Options.Progress, if any.
func (g *generator) report(format string, args ...any) {
	if g.opts.Progress != nil {
		fmt.Fprintf(g.opts.Progress, "seed: "+format+"\n", args...)
	}
}

// city is a city the marketplace serves, with what products and texts need about it.
type city struct {
	name      string   // nominative, for store names: "АвтоДеталь Казань"
	to        string   // accusative, after "в": "доставка в Казань"
	regionID  int64    // the region's vehicle registration code, which the catalogue uses as its id
	districts int      // district ids are cityID*100+1 … cityID*100+districts
	stations  int      // metro station ids are cityID*1000+1 …; 0 when the city has no metro
	places    []string // locatives after "на" of car-parts markets: "Запчасти на Таганке"
	weight    int      // relative share of vendors
}

// cities[i] has id i+1.
var cities = []city{
	{"Москва", "Москву", 77, 12, 250, []string{"Таганке", "Каширке", "Ленинском", "Варшавке", "Авиамоторной"}, 30},
	{"Санкт-Петербург", "Санкт-Петербург", 78, 18, 72, []string{"Обводном", "Ваське", "Просвете", "Энергетиков"}, 18},
	{"Новосибирск", "Новосибирск", 54, 10, 13, []string{"Станционной", "Большевистской"}, 10},
	{"Екатеринбург", "Екатеринбург", 66, 8, 9, []string{"Уралмаше", "Сибирском тракте"}, 10},
	{"Казань", "Казань", 16, 7, 11, []string{"Горьковском шоссе", "Кулагина"}, 9},
	{"Нижний Новгород", "Нижний Новгород", 52, 8, 15, []string{"Московском шоссе", "Бурнаковской"}, 8},
	{"Краснодар", "Краснодар", 23, 4, 0, []string{"Ростовском шоссе", "Уральской"}, 8},
	{"Владивосток", "Владивосток", 25, 5, 0, []string{"Зелёном Углу", "Второй Речке"}, 7},
}

func cityByID(id int64) *city { return &cities[id-1] }

// cityWeights[i] is the share of vendors in cities[i].
var cityWeights = func() []int {
	w := make([]int, len(cities))
	for i, c := range cities {
		w[i] = c.weight
	}
	return w
}()

// cityID picks a city, weighted by its share of vendors.
func (g *generator) cityID() int64 { return int64(weighted(g.rng, cityWeights) + 1) }

var (
	storePrefixes = []string{"АвтоДеталь", "ЗапчастьПлюс", "АвтоМир", "Автолига", "Деталька", "Мотор-Маркет", "Кузовной центр", "Драйв"}
	carBrands     = []string{"BMW", "Mercedes", "Toyota", "Lexus", "Nissan", "Kia", "Hyundai", "VAG", "Volvo", "Mazda", "Subaru", "Ford", "Lada"}
	latinSuffixes = []string{"Parts Store", "Parts", "Center", "Garage", "Auto Parts", "Market"}
	nicknames     = []string{"Японец", "Кореец", "Немец", "Француз", "Швед", "Американец"}
	nickSuffixes  = []string{"Сервис", "Авто", "Запчасть", "Моторс"}
	surnames      = []string{"Гусейнов", "Смирнов", "Кузнецов", "Ахмедов", "Волков", "Соколов", "Морозов", "Хабибуллин", "Лебедев", "Петренко"}
	firstNames    = []string{
		"Алексей", "Андрей", "Дмитрий", "Сергей", "Иван", "Максим", "Артём", "Никита", "Руслан", "Олег", "Тимур", "Игорь",
		"Марина", "Ольга", "Анна", "Екатерина", "Наталья", "Дарья", "Юлия", "Светлана", "Алина", "Ирина",
	}
	initials = []string{"А", "Б", "В", "Г", "Д", "Е", "Ж", "З", "И", "К", "Л", "М", "Н", "О", "П", "Р", "С", "Т", "У", "Ф", "Х", "Ч", "Ш", "Я"}
)

func (g *generator) storeName(c *city) string {
	switch g.rng.IntN(6) {
	case 0:
		return pick(g.rng, storePrefixes) + " " + c.name
	case 1:
		return pick(g.rng, carBrands) + " " + pick(g.rng, latinSuffixes)
	case 2:
		return "Запчасти на " + pick(g.rng, c.places)
	case 3:
		return pick(g.rng, nicknames) + "-" + pick(g.rng, nickSuffixes)
	case 4:
		return "Авторазборка " + pick(g.rng, carBrands)
	default:
		return "ИП " + pick(g.rng, surnames) + " " + pick(g.rng, initials) + "." + pick(g.rng, initials) + "."
	}
}

func avatarURL(userID int64) *string {
	return ptr(fmt.Sprintf("https://s3.partizap.ru/avatars/%d.webp", userID))
}

// rating renders hundredths as numeric(3,2) text, "4.85": what PostgreSQL's numeric(3,2) reads
// back and what SQLite's TEXT column stores.
func rating(hundredths int) string { return fmt.Sprintf("%d.%02d", hundredths/100, hundredths%100) }

func (g *generator) vendor(id int64, products int) models.User {
	cityID := g.cityID()
	u := models.User{
		ID:            id,
		DisplayName:   g.storeName(cityByID(cityID)),
		CityID:        &cityID,
		Rating:        rating(350 + g.rng.IntN(151)),
		ReviewsCount:  3 + g.rng.IntN(1+g.rng.IntN(2000)), // most shops have few reviews, some many
		ProductsCount: products,
		CreatedAt:     g.ago(180*day, 1500*day),
	}
	if g.chance(90) {
		u.AvatarURL = avatarURL(id)
	}
	return u
}

func (g *generator) buyer(id int64) models.User {
	u := models.User{
		ID:          id,
		DisplayName: pick(g.rng, firstNames) + " " + pick(g.rng, initials) + ".",
		Rating:      "0.00",
		CreatedAt:   g.ago(30*day, 1500*day),
	}
	if g.chance(60) {
		u.AvatarURL = avatarURL(id)
	}
	if g.chance(70) {
		u.CityID = ptr(g.cityID())
	}
	if g.chance(40) {
		u.ReviewsCount = 1 + g.rng.IntN(12)
		u.Rating = rating(400 + g.rng.IntN(101))
	}
	return u
}

// part is a kind of car part with the brands it is sold under (none: a used original) and its
// price range in rubles.
type part struct {
	name     string
	makers   []string
	min, max int64
}

var parts = []part{
	{"Фара передняя левая", []string{"Hella", "Depo"}, 3500, 90000},
	{"Фара передняя правая", []string{"Hella", "Depo"}, 3500, 90000},
	{"Фонарь задний правый", []string{"Depo", "Hella"}, 1500, 25000},
	{"Тормозные колодки передние", []string{"Brembo", "TRW", "Ferodo", "Nisshinbo"}, 900, 9000},
	{"Тормозной диск передний", []string{"Brembo", "TRW", "Zimmermann"}, 1800, 15000},
	{"Амортизатор задний", []string{"Kayaba", "Sachs", "Bilstein"}, 2000, 22000},
	{"Амортизатор передний", []string{"Kayaba", "Sachs", "Bilstein"}, 2500, 28000},
	{"Рычаг передний нижний", []string{"Lemförder", "Febi", "CTR"}, 1500, 16000},
	{"Шаровая опора", []string{"Lemförder", "CTR", "Febi"}, 600, 5000},
	{"Радиатор охлаждения", []string{"Nissens", "Denso", "Valeo"}, 3500, 38000},
	{"Стартер", []string{"Bosch", "Denso", "Valeo"}, 4500, 32000},
	{"Генератор", []string{"Bosch", "Denso", "Valeo"}, 6000, 45000},
	{"Помпа", []string{"Aisin", "SKF", "Hepu"}, 1500, 12000},
	{"Комплект ГРМ", []string{"Gates", "Contitech", "INA"}, 3000, 25000},
	{"Комплект сцепления", []string{"Sachs", "Valeo", "LuK", "Exedy"}, 5000, 40000},
	{"Катушка зажигания", []string{"Bosch", "Denso", "NGK"}, 800, 9000},
	{"Топливный насос", []string{"Bosch", "Denso"}, 2500, 25000},
	{"Компрессор кондиционера", []string{"Denso", "Sanden", "Valeo"}, 12000, 75000},
	{"ШРУС наружный", []string{"GKN", "SKF"}, 1500, 12000},
	{"Ступица задняя в сборе", []string{"SKF", "FAG", "SNR"}, 1500, 15000},
	{"Лобовое стекло", []string{"Pilkington", "AGC", "Fuyao"}, 5000, 50000},
	{"Турбина", []string{"Garrett", "BorgWarner", "IHI"}, 25000, 150000},
	{"Бампер передний", nil, 4000, 60000},
	{"Капот", nil, 5000, 70000},
	{"Крыло переднее левое", nil, 2500, 30000},
	{"Дверь задняя правая", nil, 6000, 65000},
	{"Зеркало боковое левое", nil, 2000, 45000},
	{"АКПП в сборе", nil, 40000, 150000},
	{"Двигатель контрактный", nil, 60000, 150000},
}

// car is a model parts are listed for; rhd marks the Japanese-market models that mostly come
// right-hand drive.
type car struct {
	name string
	rhd  bool
}

var cars = []car{
	{"BMW 5 E60", false}, {"BMW X5 E70", false}, {"Mercedes-Benz E-класс W212", false}, {"Audi A6 C7", false},
	{"Volkswagen Polo", false}, {"Skoda Octavia A7", false}, {"Toyota Camry XV70", false}, {"Toyota Land Cruiser 200", false},
	{"Kia Rio", false}, {"Hyundai Solaris", false}, {"Hyundai Creta", false}, {"Lada Vesta", false}, {"Lada Granta", false},
	{"Renault Logan", false}, {"Ford Focus 3", false}, {"Nissan Qashqai J11", false}, {"Mazda 6 GJ", false}, {"Volvo XC90", false},
	{"Mitsubishi Outlander 3", false}, {"Toyota Prius 30", true}, {"Honda Fit", true}, {"Nissan Note E12", true},
	{"Toyota Corolla Fielder", true}, {"Subaru Forester SJ", true},
}

// roundPrice rounds to what a seller would ask: tens of rubles below 5000, hundreds above.
func roundPrice(p int64) int64 {
	if p < 5000 {
		return (p + 5) / 10 * 10
	}
	return (p + 50) / 100 * 100
}

// product adds a product of seller with its images to the batch.
func (g *generator) product(seller *models.User) listing {
	pt, cr := pick(g.rng, parts), pick(g.rng, cars)
	title := pt.name + " " + cr.name
	if len(pt.makers) > 0 && g.chance(60) {
		title = pt.name + " " + pick(g.rng, pt.makers) + " " + cr.name
	}
	c := cityByID(*seller.CityID)
	g.sum.Products++
	p := models.Product{
		ID:       g.sum.Products,
		SellerID: seller.ID,
		Title:    title,
		Price:    roundPrice(g.between(pt.min, pt.max)),
		CityID:   *seller.CityID,
		RegionID: c.regionID,
	}
	switch r := g.rng.IntN(100); {
	case r < 20: // not stated
	case cr.rhd && r < 70, !cr.rhd && r < 22:
		p.Steering = ptr("right")
	default:
		p.Steering = ptr("left")
	}
	if g.chance(70) {
		p.DistrictID = ptr(*seller.CityID*100 + 1 + g.rng.Int64N(int64(c.districts)))
	}
	if c.stations > 0 && g.chance(70) {
		p.MetroStationID = ptr(*seller.CityID*1000 + 1 + g.rng.Int64N(int64(c.stations)))
		if g.chance(80) {
			p.MetroDistanceM = ptr(10 * (5 + g.rng.IntN(296))) // 50 m … 3 km
		}
	}
	if g.chance(80) {
		p.AddressID = ptr(fmt.Sprintf("addr-%016x", g.rng.Uint64()))
	}
	// Listed at least three days ago, and published within a day, so that every conversation
	// has at least two days to happen in before Now.
	from := later(seller.CreatedAt.Add(day), g.now.Add(-365*day))
	p.CreatedAt = from.Add(g.duration(0, g.now.Add(-3*day).Sub(from)))
	since := p.CreatedAt
	if g.chance(95) {
		since = p.CreatedAt.Add(g.duration(5*time.Minute, day))
		p.PublishedAt = &since
	}
	g.batch.products = append(g.batch.products, p)
	g.images(p.ID)
	return listing{id: p.ID, sellerID: p.SellerID, title: p.Title, price: p.Price, since: since}
}

// images adds 0 to 4 images of a product; the first is the primary one, always ready.
func (g *generator) images(productID int64) {
	// Of 100 products, 10 have no image, 20 one, 25 two, 25 three and 20 four.
	n := weighted(g.rng, []int{10, 20, 25, 25, 20})
	for i := range n {
		g.sum.ProductImages++
		id := g.sum.ProductImages
		url := func(size, ext string) string {
			return fmt.Sprintf("https://s3.partizap.ru/products/%d/%d_%s.%s", productID, id, size, ext)
		}
		status := "ready"
		if i > 0 && g.chance(8) {
			status = "processing"
		}
		g.batch.images = append(g.batch.images, models.ProductImage{
			ID:            id,
			ProductID:     productID,
			ThumbnailWebp: url("thumb", "webp"),
			ThumbnailJpeg: url("thumb", "jpg"),
			MediumWebp:    url("medium", "webp"),
			MediumJpeg:    url("medium", "jpg"),
			LargeWebp:     url("large", "webp"),
			LargeJpeg:     url("large", "jpg"),
			Status:        status,
			IsPrimary:     i == 0,
			SortOrder:     i,
		})
	}
}

// conversation adds a conversation about l with a buyer new to it, its participants and its
// messages. A tie gets the updated_at of the conversation added just before (the same vendor's),
// moving that one later when this one could not have ended that early.
func (g *generator) conversation(l *listing, tie bool) {
	b := g.rng.IntN(len(g.buyers))
	for slices.Contains(l.buyers, b) { // at most two taken, and the pool has at least three
		b = (b + 1) % len(g.buyers)
	}
	l.buyers = append(l.buyers, b)
	buyer := &g.buyers[b]

	// gaps[0] is from opening the chat to the first message, gaps[k] from message k-1 to k.
	gaps := g.gaps(g.opts.Messages)
	var span time.Duration
	for _, d := range gaps {
		span += d
	}
	start := later(l.since, buyer.CreatedAt)
	if window := g.now.Sub(start); span > window {
		gaps, span = squeeze(gaps, span, window)
	}
	var end time.Time
	if tie {
		prev := &g.batch.conversations[len(g.batch.conversations)-1]
		end = later(prev.UpdatedAt, start.Add(span))
		g.batch.shiftLast(end.Sub(prev.UpdatedAt), g.opts.Messages)
	} else {
		// Skewed towards Now, as inboxes are: the smaller of two uniform draws.
		slack := int64(g.now.Sub(start.Add(span)) / time.Second)
		end = g.now.Add(-time.Duration(min(g.rng.Int64N(slack+1), g.rng.Int64N(slack+1))) * time.Second)
	}

	g.sum.Conversations++
	c := models.Conversation{
		ID:        g.sum.Conversations,
		ProductID: l.id,
		SellerID:  l.sellerID,
		CreatedAt: end.Add(-span),
		UpdatedAt: end,
	}
	g.batch.conversations = append(g.batch.conversations, c)
	g.batch.participants = append(g.batch.participants,
		models.Participant{ConversationID: c.ID, UserID: c.SellerID, JoinedAt: c.CreatedAt},
		models.Participant{ConversationID: c.ID, UserID: buyer.ID, JoinedAt: c.CreatedAt})
	g.sum.Participants += 2
	g.messages(&c, buyer, l, gaps)
	// The conversation's row was appended before its messages were made.
	g.batch.conversations[len(g.batch.conversations)-1].SellerUnreadCount = c.SellerUnreadCount
}

// gaps draws the pauses before each of n messages: mostly a live chat, sometimes a reply hours
// or days later.
func (g *generator) gaps(n int) []time.Duration {
	if n == 0 {
		return nil
	}
	gaps := make([]time.Duration, n)
	gaps[0] = g.duration(5*time.Second, 2*time.Minute)
	for k := 1; k < n; k++ {
		switch r := g.rng.IntN(100); {
		case r < 65:
			gaps[k] = g.duration(20*time.Second, 15*time.Minute)
		case r < 90:
			gaps[k] = g.duration(30*time.Minute, 12*time.Hour)
		default:
			gaps[k] = g.duration(day, 3*day)
		}
	}
	return gaps
}

// squeeze shrinks gaps, each at least a second, to fit in window, keeping their proportions.
// It needs window >= len(gaps) seconds, which Options' limits and the two days every listing
// leaves before Now guarantee.
func squeeze(gaps []time.Duration, span, window time.Duration) ([]time.Duration, time.Duration) {
	n := int64(len(gaps))
	over, room := int64(span/time.Second)-n, int64(window/time.Second)-n
	span = 0
	for k, d := range gaps {
		gaps[k] = time.Duration(1+(int64(d/time.Second)-1)*room/over) * time.Second
		span += gaps[k]
	}
	return gaps, span
}

var (
	buyerOpeners = []string{
		"Здравствуйте! Деталь ещё в наличии?",
		"Добрый день! Ещё продаёте «{title}»?",
		"Здравствуйте, актуально?",
		"Добрый вечер! Подойдёт на рестайлинг?",
		"Здравствуйте! Это оригинал или аналог?",
		"Здравствуйте! Какое состояние у детали?",
		"Добрый день! Можно подъехать посмотреть сегодня?",
	}
	// buyerLines and sellerLines run from the first questions to the deal's end; see script.
	buyerLines = []string{
		"Какая цена с доставкой в {city}?",
		"А пробег у машины-донора какой?",
		"Есть ли сколы или трещины?",
		"Скиньте, пожалуйста, фото маркировки.",
		"По VIN проверите совместимость?",
		"Торг уместен?",
		"А за {offer} ₽ отдадите?",
		"Гарантия на установку есть?",
		"Отправите СДЭКом?",
		"Можно забрать завтра после 18:00?",
		"Хорошо, беру. Как оплатить?",
		"Оплатил, жду трек-номер.",
		"Получил, всё подошло. Спасибо!",
		"Ок",
	}
	sellerOpeners = []string{
		"Здравствуйте! Да, в наличии.",
		"Да, в наличии. Могу отправить СДЭКом.",
		"Добрый день! Актуально, деталь на складе.",
		"Здравствуйте! Оригинал, снят с машины с пробегом 80 тыс. км.",
	}
	sellerLines = []string{
		"Пришлите VIN, проверю по каталогу.",
		"Подойдёт, проверил по каталогу.",
		"Дефектов нет, всё целое.",
		"Сейчас скину фото.",
		"Доставка в {city} — около 900 ₽, 3–5 дней.",
		"Небольшой торг при самовывозе.",
		"За {offer} ₽ отдам, если заберёте сегодня.",
		"Гарантия 14 дней на установку.",
		"Можно, я на месте до 20:00.",
		"Оплата переводом или наложенным платежом.",
		"Отправил, трек-номер СДЭК {track}.",
		"Спасибо за покупку! Будем рады отзыву.",
	}
	buyerCaptions  = []string{"Вот фото моей детали — такая же?", "Вот номер со старой детали."}
	sellerCaptions = []string{"Фото маркировки.", "Вот так выглядит вживую.", "Квитанция об отправке."}
)

// messages adds the messages of c, one per gap. The buyer writes first; then the two mostly
// alternate. Everything is read except, in about 40% of conversations, the buyer's trailing 1..3
// messages (the vendor's unread count) and, in about 10%, the seller's last one; an unread last
// message is sometimes not even delivered yet.
func (g *generator) messages(c *models.Conversation, buyer *models.User, l *listing, gaps []time.Duration) {
	n := len(gaps)
	if n == 0 {
		return
	}
	senders := make([]int64, n)
	senders[0] = buyer.ID
	for k := 1; k < n; k++ {
		senders[k] = senders[k-1]
		if g.chance(75) {
			senders[k] = c.SellerID + buyer.ID - senders[k-1]
		}
	}
	unreadFrom := n
	switch r := g.rng.IntN(100); {
	case r < 40:
		unreadFrom = n - min(1+g.rng.IntN(3), n)
		for k := unreadFrom; k < n; k++ {
			senders[k] = buyer.ID
		}
	case r < 50 && n >= 2:
		unreadFrom = n - 1
		senders[n-1] = c.SellerID
	}
	lastUndelivered := unreadFrom < n && g.chance(25)

	to := buyer.CityID
	if to == nil {
		to = ptr(g.cityID()) // the buyer has not filled in a city, but asks about theirs anyway
	}
	// The track number is drawn for every conversation, written or not, so that the draws after
	// it stay the same; the replacer, costly to build, is built for the first line that needs it.
	track := g.rng.Int64N(10_000_000_000)
	var replacer *strings.Replacer
	fill := func(text string) string {
		if !strings.Contains(text, "{") {
			return text
		}
		if replacer == nil {
			replacer = strings.NewReplacer(
				"{title}", l.title,
				"{city}", cityByID(*to).to,
				"{offer}", strconv.FormatInt(roundPrice(l.price*9/10), 10),
				"{track}", fmt.Sprintf("%010d", track),
			)
		}
		return replacer.Replace(text)
	}
	buyerSays, sellerSays := script{lines: buyerLines}, script{lines: sellerLines}
	at, sellerSpoke := c.CreatedAt, false
	for k, gap := range gaps {
		at = at.Add(gap)
		g.sum.Messages++
		m := models.Message{
			ID:             g.sum.Messages,
			ConversationID: c.ID,
			SenderID:       senders[k],
			IsRead:         k < unreadFrom,
			IsDelivered:    !(lastUndelivered && k == n-1),
			CreatedAt:      at,
		}
		if !m.IsRead {
			g.sum.UnreadMessages++
			if m.SenderID != c.SellerID {
				c.SellerUnreadCount++
			}
		}
		fromBuyer := senders[k] == buyer.ID
		var text string // none: a photo alone
		photo := false
		switch r := g.rng.IntN(100); {
		case k == 0:
			text = pick(g.rng, buyerOpeners)
		case r < 10:
			photo = true
		case r < 13:
			photo, text = true, pick(g.rng, sellerCaptions)
			if fromBuyer {
				text = pick(g.rng, buyerCaptions)
			}
		case fromBuyer:
			text = buyerSays.next(g.rng)
		case !sellerSpoke:
			text = pick(g.rng, sellerOpeners)
		default:
			text = sellerSays.next(g.rng)
		}
		if text != "" {
			m.Text = ptr(fill(text))
		}
		if photo {
			m.ImageURL = ptr(fmt.Sprintf("https://s3.partizap.ru/messages/%d.jpg", m.ID))
		}
		sellerSpoke = sellerSpoke || !fromBuyer
		g.batch.messages = append(g.batch.messages, m)
	}
}

// script walks through lines in order, skipping up to two at random, so that a dialog moves
// from questions to the deal instead of jumping about; after the last line it starts over, as
// with a new order.
type script struct {
	lines []string
	pos   int
}

func (s *script) next(rng *rand.Rand) string {
	i := min(s.pos+rng.IntN(3), len(s.lines)-1)
	s.pos = (i + 1) % len(s.lines)
	return s.lines[i]
}

// batch holds generated rows until they are inserted.
type batch struct {
	products      []models.Product
	images        []models.ProductImage
	conversations []models.Conversation
	participants  []models.Participant
	messages      []models.Message
}

// rows is the number of rows the batch holds.
func (b *batch) rows() int {
	return len(b.products) + len(b.images) + len(b.conversations) + len(b.participants) + len(b.messages)
}

// shiftLast moves the last conversation of the batch, its participants and its n messages d
// later.
func (b *batch) shiftLast(d time.Duration, n int) {
	if d == 0 {
		return
	}
	c := &b.conversations[len(b.conversations)-1]
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.Add(d), c.UpdatedAt.Add(d)
	for i := len(b.participants) - 2; i < len(b.participants); i++ {
		b.participants[i].JoinedAt = b.participants[i].JoinedAt.Add(d)
	}
	for i := len(b.messages) - n; i < len(b.messages); i++ {
		b.messages[i].CreatedAt = b.messages[i].CreatedAt.Add(d)
	}
}

const day = 24 * time.Hour

// duration draws a whole number of seconds in [lo, hi].
func (g *generator) duration(lo, hi time.Duration) time.Duration {
	return time.Duration(g.between(int64(lo/time.Second), int64(hi/time.Second))) * time.Second
}

// ago draws a time between hi and lo before Now.
func (g *generator) ago(lo, hi time.Duration) time.Time { return g.now.Add(-g.duration(lo, hi)) }

func (g *generator) between(lo, hi int64) int64 { return lo + g.rng.Int64N(hi-lo+1) }

func (g *generator) chance(percent int) bool { return g.rng.IntN(100) < percent }

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// weighted draws an index of weights with probability proportional to its weight.
func weighted(rng *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	r, i := rng.IntN(total), 0
	for r >= weights[i] {
		r -= weights[i]
		i++
	}
	return i
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func ptr[T any](v T) *T { return &v }

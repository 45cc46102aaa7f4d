package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partizap/vendor-inbox/models/database"
)

// The SQL-only load is the yardstick of the seed: what PostgreSQL takes to fill the same tables
// with as many rows of about the same width by itself, generated in the server by INSERT …
// SELECT over generate_series, with no client, protocol or parsing, and the indexes and
// constraints built after the rows. Measured minutes apart in the same run, the seed's rows/s
// over this one's says how close the seed comes to what PostgreSQL can load on this machine at
// that moment, whatever else the machine is doing.

// loadTiming is one load of the comparison: its rows and how long they took, from a freshly
// created database (migrations included) to statistics collected.
type loadTiming struct {
	Rows    int64
	Seconds float64
	Bytes   int64 // the database's size after it: the two loads' rows should be about as wide
}

func (l loadTiming) RowsPerSecond() float64 { return float64(l.Rows) / max(l.Seconds, 1e-9) }

func (l loadTiming) MiB() float64 { return float64(l.Bytes) / (1 << 20) }

// sqlLoadTables are the tables both loads fill, parents first.
var sqlLoadTables = []string{"users", "products", "product_images", "conversations", "conversation_participants", "messages"}

// sqlLoadMaintenanceWorkMem is what the index builds get: the same as the seed's
// (maintenanceWorkMem in models/seed).
const sqlLoadMaintenanceWorkMem = "256MB"

// sqlLoadStatements fill the tables with the seed's row counts for the options, which replace
// {vendors}, {conversations} (per vendor), {busiest} (the busiest vendor's), {messages} (per
// conversation) and {buyers}: literals, so that the planner knows them. The shape table holds each vendor's conversations (n) and listings (l) and the ids
// before its first product (p0) and conversation (c0), as the seed numbers them. Values are
// spread by id arithmetic; the texts and URLs are about as long as the seed's, so that the
// rows are about as wide.
var sqlLoadStatements = []string{
	`CREATE TEMPORARY TABLE shape ON COMMIT DROP AS
	SELECT v, n, l, (sum(l) OVER w - l)::bigint AS p0, (sum(n) OVER w - n)::bigint AS c0
	FROM (SELECT v, n, greatest(1, (n + 2) / 3) AS l
	      FROM (SELECT v::bigint, (CASE WHEN v = 1 AND {busiest} > {conversations} THEN {busiest} ELSE {conversations} END)::bigint AS n
	            FROM generate_series(1, {vendors}) v) a) b
	WINDOW w AS (ORDER BY v)`,

	`INSERT INTO users (id, display_name, avatar_url, city_id, rating, reviews_count, products_count, created_at)
	SELECT u,
	       CASE WHEN s.v IS NOT NULL THEN 'Автодеталь Санкт-Петербург ' || u ELSE 'Екатерина Л. ' || u END,
	       CASE WHEN u % 10 < 7 THEN 'https://s3.partizap.ru/avatars/' || u || '.webp' END,
	       CASE WHEN u % 10 < 8 THEN 1 + u % 8 END,
	       (350 + u * 37 % 151) / 100.0, u * 7919 % 2000, coalesce(s.l, 0),
	       timestamptz '2026-11-20 12:00:00Z' - make_interval(secs => 86400 * 30 + u * 7919 % (86400 * 1470))
	FROM generate_series(1, {vendors} + {buyers}) u LEFT JOIN shape s ON s.v = u`,

	`INSERT INTO products (id, seller_id, title, price, steering, city_id, region_id, district_id,
	    metro_station_id, metro_distance_m, address_id, published_at, created_at)
	SELECT p, v, (ARRAY['Фара передняя левая Hella BMW 5 E60', 'Амортизатор задний Kayaba Toyota Camry XV70',
	                    'Тормозные колодки передние Brembo Kia Rio', 'Комплект сцепления Sachs Volkswagen Polo',
	                    'Двигатель контрактный Nissan Qashqai J11'])[1 + p % 5],
	       1000 + p * 7919 % 90000 / 10 * 10,
	       (ARRAY['left', 'right', NULL])[1 + p % 3],
	       1 + v % 8, 77,
	       CASE WHEN p % 10 < 7 THEN (1 + v % 8) * 100 + 1 + p % 7 END,
	       CASE WHEN p % 10 < 5 THEN (1 + v % 8) * 1000 + 1 + p % 11 END,
	       CASE WHEN p % 10 < 4 THEN 50 + p % 296 * 10 END,
	       CASE WHEN p % 5 <> 0 THEN 'addr-' || lpad(to_hex(p * 2654435761), 16, '0') END,
	       CASE WHEN p % 20 <> 0 THEN created + interval '5 hours' END,
	       created
	FROM (SELECT s.p0 + k AS p, s.v,
	             timestamptz '2026-11-20 12:00:00Z' - make_interval(secs => 86400 * 3 + (s.p0 + k) * 7919 % (86400 * 360)) AS created
	      FROM shape s, generate_series(1, s.l) k) a`,

	// Of 20 products, 2 have no image, 4 one, 5 two, 5 three and 4 four: 2.25 on average, as in
	// the seed.
	`INSERT INTO product_images (id, product_id, thumbnail_webp, thumbnail_jpeg, medium_webp, medium_jpeg,
	    large_webp, large_jpeg, status, is_primary, sort_order)
	SELECT id, p,
	       format('https://s3.partizap.ru/products/%s/%s_thumb.webp', p, id), format('https://s3.partizap.ru/products/%s/%s_thumb.jpg', p, id),
	       format('https://s3.partizap.ru/products/%s/%s_medium.webp', p, id), format('https://s3.partizap.ru/products/%s/%s_medium.jpg', p, id),
	       format('https://s3.partizap.ru/products/%s/%s_large.webp', p, id), format('https://s3.partizap.ru/products/%s/%s_large.jpg', p, id),
	       CASE WHEN k > 0 AND id % 12 = 0 THEN 'processing' ELSE 'ready' END, k = 0, k
	FROM (SELECT row_number() OVER (ORDER BY p, k) AS id, p, k
	      FROM (SELECT p, CASE WHEN p % 20 < 2 THEN 0 WHEN p % 20 < 6 THEN 1 WHEN p % 20 < 11 THEN 2 WHEN p % 20 < 16 THEN 3 ELSE 4 END AS n
	            FROM generate_series(1, (SELECT sum(l) FROM shape)::bigint) p) a,
	           generate_series(0, a.n - 1) k) b`,

	`INSERT INTO conversations (id, product_id, seller_id, created_at, updated_at)
	SELECT id, p, v, created, created + make_interval(secs => 180 * {messages} + id % 86400)
	FROM (SELECT s.c0 + j + 1 AS id, s.p0 + 1 + j % s.l AS p, s.v,
	             timestamptz '2026-11-20 12:00:00Z' - make_interval(secs => 86400 * 3 + (s.c0 + j) * 7919 % (86400 * 300)) AS created
	      FROM shape s, generate_series(0, s.n - 1) j) a`,

	// The buyer of conversation c is the same expression here and in messages.
	`INSERT INTO conversation_participants (conversation_id, user_id, joined_at)
	SELECT c.id, x.u, c.created_at
	FROM conversations c, LATERAL (VALUES (c.seller_id), ({vendors} + 1 + c.id * 7919 % {buyers})) x(u)`,

	// About 90% of messages have a text and 12.5% a photo (never neither), 4.5% are unread
	// (the buyer's last three in 30% of conversations).
	`INSERT INTO messages (id, conversation_id, sender_id, text, image_url, is_read, is_delivered, created_at)
	SELECT id, cid, CASE WHEN k % 2 = 1 THEN {vendors} + 1 + cid * 7919 % {buyers} ELSE seller END,
	       CASE WHEN id % 8 <> 0 OR id % 32 = 0 THEN (ARRAY['Здравствуйте! Деталь ещё в наличии?', 'Какая цена с доставкой в Москву?',
	            'Пришлите VIN, проверю по каталогу.', 'Доставка — около 900 ₽, 3–5 дней.', 'Хорошо, беру. Как оплатить?',
	            'Отправил, трек-номер СДЭК 0123456789.', 'Ок', 'Гарантия 14 дней на установку.'])[1 + id % 8] END,
	       CASE WHEN id % 8 = 0 THEN 'https://s3.partizap.ru/messages/' || id || '.jpg' END,
	       NOT (k > {messages} - 3 AND cid % 10 < 3), NOT (k = {messages} AND cid % 40 = 0),
	       created + make_interval(secs => 180 * k)
	FROM (SELECT (c.id - 1) * {messages} + k AS id, c.id AS cid, c.seller_id AS seller, c.created_at AS created, k
	      FROM conversations c, generate_series(1, {messages}) k) a`,
}

// sqlOnlyLoad migrates the empty database at databaseURL and fills it with the SQL-only load in
// one transaction: the indexes and constraints off (database.DropIndexes), the rows, the
// indexes and constraints back; then VACUUM (ANALYZE), as the seed does.
func sqlOnlyLoad(ctx context.Context, databaseURL string, opts options, logf func(string, ...any)) (loadTiming, error) {
	start := time.Now()
	db, err := database.Open(ctx, databaseURL)
	if err != nil {
		return loadTiming{}, err
	}
	_, err = database.Migrate(ctx, db)
	if sqlDB, dbErr := db.DB(); dbErr == nil {
		_ = sqlDB.Close()
	}
	if err != nil {
		return loadTiming{}, fmt.Errorf("migrate: %w", err)
	}

	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return loadTiming{}, err
	}
	defer conn.Close(context.Background())
	var rows int64
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('maintenance_work_mem', $1, true)", sqlLoadMaintenanceWorkMem); err != nil {
			return err
		}
		deferred, err := database.DropIndexes(ctx, tx, sqlLoadTables)
		if err != nil {
			return err
		}
		values := strings.NewReplacer(
			"{vendors}", strconv.Itoa(opts.Vendors), "{conversations}", strconv.Itoa(opts.Conversations),
			"{busiest}", strconv.Itoa(opts.Busiest), "{messages}", strconv.Itoa(opts.Messages),
			"{buyers}", strconv.Itoa(max(3, 2*opts.Vendors)))
		for i, q := range sqlLoadStatements {
			tag, err := tx.Exec(ctx, values.Replace(q))
			if err != nil {
				return fmt.Errorf("SQL-only load, statement %d: %w", i+1, err)
			}
			if tag.Insert() {
				rows += tag.RowsAffected()
			}
		}
		logf("SQL-only load: %d rows in %.1fs; building the indexes and constraints", rows, time.Since(start).Seconds())
		return deferred.Restore(ctx, tx)
	})
	if err != nil {
		return loadTiming{}, err
	}
	logf("SQL-only load: committed after %.1fs; collecting statistics", time.Since(start).Seconds())
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) users, products, product_images, conversations, conversation_participants, messages"); err != nil {
		return loadTiming{}, err
	}
	return loadTiming{Rows: rows, Seconds: time.Since(start).Seconds()}, nil
}

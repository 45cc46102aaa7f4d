package floor

import (
	"context"
	"crypto/sha256"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/rest"
)

// rowsQuery is the floor's statement in its rows form: the page's rows, each nested part as
// rows of its own, and Go writes the JSON. Building JSON text costs PostgreSQL about 9 µs an
// object, more than Go spends writing it, and aggregating the nested parts into arrays costs a
// sort per array; rows of their own cost neither, only one sort of the few hundred rows of the
// answer. So the statement is a UNION ALL of four kinds of row, sharing typed columns:
//
//   - kind 0, one row: the viewer (none means no session) and whether more pages follow;
//   - kind 1, one per conversation: it, its product, the product's seller (joins) and its last
//     message (a lateral index probe);
//   - kind 2, one per image of its product, in display order;
//   - kind 3, one per participant, in the order they joined;
//
// ordered by conversation, then kind, so that Go writes each conversation as its rows arrive.
func rowsQuery(withCursor bool) string {
	after := ""
	if withCursor {
		after = "AND (c.updated_at, c.id) < ($3, $4)"
	}
	return `WITH viewer AS MATERIALIZED (
	SELECT user_id FROM sessions WHERE id_hash = $1 AND expires_at > now()
), page AS MATERIALIZED (
	SELECT c.id, c.product_id, c.created_at, c.updated_at, c.seller_unread_count,
		row_number() OVER (ORDER BY c.updated_at DESC, c.id DESC) AS n
	FROM conversations c
	WHERE c.seller_id = (SELECT user_id FROM viewer) ` + after + `
	ORDER BY c.updated_at DESC, c.id DESC
	LIMIT $2 + 1
)
SELECT 0 AS kind, 0::bigint AS n, NULL::integer AS o_int, NULL::timestamptz AS o_ts, NULL::bigint AS o_id,
	NULL::bigint AS i1, NULL::bigint AS i2, NULL::bigint AS i3, NULL::bigint AS i4, NULL::bigint AS i5,
	NULL::bigint AS i6, NULL::bigint AS i7, NULL::bigint AS i8, NULL::bigint AS i9, NULL::bigint AS i10,
	NULL::bigint AS i11, NULL::bigint AS i12, NULL::bigint AS i13, NULL::bigint AS i14, NULL::bigint AS i15,
	NULL::text AS t1, NULL::text AS t2, NULL::text AS t3, NULL::text AS t4, NULL::text AS t5,
	NULL::text AS t6, NULL::text AS t7, NULL::text AS t8,
	(SELECT count(*) FROM page) > $2 AS b1, NULL::boolean AS b2,
	NULL::timestamptz AS ts1, NULL::timestamptz AS ts2, NULL::timestamptz AS ts3,
	NULL::timestamptz AS ts4, NULL::timestamptz AS ts5
FROM viewer
UNION ALL
SELECT 1, c.n, NULL, NULL, NULL,
	c.id, c.product_id, c.seller_unread_count, p.price, p.city_id, p.region_id, p.district_id,
	p.metro_station_id, p.metro_distance_m, s.id, s.city_id, s.reviews_count, s.products_count,
	m.id, m.sender_id,
	p.title, p.steering, p.address_id, s.display_name, s.avatar_url, s.rating::text, m.text, m.image_url,
	m.is_read, m.is_delivered,
	c.created_at, c.updated_at, p.published_at, s.created_at, m.created_at
FROM page c
JOIN products p ON p.id = c.product_id
JOIN users s ON s.id = p.seller_id
LEFT JOIN LATERAL (
	SELECT m.id, m.sender_id, m.text, m.image_url, m.is_read, m.is_delivered, m.created_at
	FROM messages m WHERE m.conversation_id = c.id
	ORDER BY m.created_at DESC, m.id DESC LIMIT 1
) m ON true
WHERE c.n <= $2
UNION ALL
SELECT 2, c.n, i.sort_order, NULL, i.id,
	i.id, i.sort_order, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	i.thumbnail_webp, i.thumbnail_jpeg, i.medium_webp, i.medium_jpeg, i.large_webp, i.large_jpeg, i.status, NULL,
	i.is_primary, NULL,
	NULL, NULL, NULL, NULL, NULL
FROM page c
JOIN product_images i ON i.product_id = c.product_id
WHERE c.n <= $2
UNION ALL
SELECT 3, c.n, NULL, cp.joined_at, cp.user_id,
	u.id, u.city_id, u.reviews_count, u.products_count, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	u.display_name, u.avatar_url, u.rating::text, NULL, NULL, NULL, NULL, NULL,
	NULL, NULL,
	u.created_at, NULL, NULL, NULL, NULL
FROM page c
JOIN conversation_participants cp ON cp.conversation_id = c.id
JOIN users u ON u.id = cp.user_id
WHERE c.n <= $2
ORDER BY n, kind, o_int, o_ts, o_id`
}

// pageRow is one row of rowsQuery, scanned in place; what its columns mean depends on kind.
type pageRow struct {
	kind    int32
	n       int64
	oInt    pgtype.Int4
	oTS     pgtype.Timestamptz
	oID     pgtype.Int8
	i       [15]pgtype.Int8
	t       [8]pgtype.Text
	b1, b2  pgtype.Bool
	ts      [5]pgtype.Timestamptz
	targets []any
}

func newPageRow() *pageRow {
	r := &pageRow{}
	r.targets = []any{&r.kind, &r.n, &r.oInt, &r.oTS, &r.oID}
	for k := range r.i {
		r.targets = append(r.targets, &r.i[k])
	}
	for k := range r.t {
		r.targets = append(r.targets, &r.t[k])
	}
	r.targets = append(r.targets, &r.b1, &r.b2)
	for k := range r.ts {
		r.targets = append(r.targets, &r.ts[k])
	}
	return r
}

// The kinds of row.
const (
	viewerRow = iota
	conversationRow
	imageRow
	participantRow
)

// rowsPage runs rowsQuery and writes the page as the service does.
func (f *Floor) rowsPage(ctx context.Context, dst []byte, sessionID string, limit int, cursor *models.InboxKey) (body []byte, ok bool, err error) {
	hash := sha256.Sum256([]byte(sessionID))
	var rows pgx.Rows
	if cursor == nil {
		rows, err = f.pool.Query(ctx, f.first, hash[:], limit)
	} else {
		rows, err = f.pool.Query(ctx, f.next, hash[:], limit, cursor.UpdatedAt, cursor.ID)
	}
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	r := newPageRow()
	var conv pageRow // the open conversation's row, until its last part is written
	open, inImages, parts := false, false, 0
	more := false
	b := append(dst, `{"data":[`...)
	for rows.Next() {
		if err := rows.Scan(r.targets...); err != nil {
			return nil, false, err
		}
		switch r.kind {
		case viewerRow:
			ok, more = true, r.b1.Bool
		case conversationRow:
			if open {
				b = append(closeConversation(b, &conv, inImages), ',')
			}
			conv, open, inImages, parts = *r, true, true, 0
			b = appendConversationHead(b, &conv)
		case imageRow:
			if parts > 0 {
				b = append(b, ',')
			}
			parts++
			b = appendImage(b, r)
		case participantRow:
			if inImages {
				b, inImages, parts = closeImages(b, &conv), false, 0
			}
			if parts > 0 {
				b = append(b, ',')
			}
			parts++
			b = appendUser(b, r.i[0].Int64, r.t[0].String, nullText(r.t[1]), nullInt(r.i[1]), r.t[2].String, r.i[2].Int64, r.i[3].Int64, r.ts[0].Time)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	if !ok {
		return nil, false, nil
	}
	var lastAt *time.Time
	var lastID *int64
	if open {
		b = closeConversation(b, &conv, inImages)
		lastAt, lastID = &conv.ts[1].Time, &conv.i[0].Int64
	}
	b = append(b, ']')
	return f.appendMeta(b, more && open, lastAt, lastID), true, nil
}

// appendConversationHead writes a conversation up to its product's images.
func appendConversationHead(b []byte, c *pageRow) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, c.i[0].Int64, 10)
	b = append(b, `,"product_id":`...)
	b = strconv.AppendInt(b, c.i[1].Int64, 10)
	b = append(b, `,"product":{"id":`...)
	b = strconv.AppendInt(b, c.i[1].Int64, 10)
	b = append(b, `,"title":`...)
	b = rest.AppendString(b, c.t[0].String)
	b = append(b, `,"price":`...)
	b = strconv.AppendInt(b, c.i[3].Int64, 10)
	b = append(b, `,"steering":`...)
	b = appendNullString(b, nullText(c.t[1]))
	b = append(b, `,"city_id":`...)
	b = strconv.AppendInt(b, c.i[4].Int64, 10)
	b = append(b, `,"region_id":`...)
	b = strconv.AppendInt(b, c.i[5].Int64, 10)
	b = append(b, `,"district_id":`...)
	b = appendNullInt(b, nullInt(c.i[6]))
	b = append(b, `,"metro_station_id":`...)
	b = appendNullInt(b, nullInt(c.i[7]))
	b = append(b, `,"metro_distance_m":`...)
	b = appendNullInt(b, nullInt(c.i[8]))
	b = append(b, `,"address_id":`...)
	b = appendNullString(b, nullText(c.t[2]))
	return append(b, `,"images":[`...)
}

func appendImage(b []byte, r *pageRow) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, r.i[0].Int64, 10)
	for k, name := range [...]string{`,"thumbnail_webp":`, `,"thumbnail_jpeg":`, `,"medium_webp":`, `,"medium_jpeg":`, `,"large_webp":`, `,"large_jpeg":`, `,"status":`} {
		b = append(b, name...)
		b = rest.AppendString(b, r.t[k].String)
	}
	b = append(b, `,"is_primary":`...)
	b = strconv.AppendBool(b, r.b1.Bool)
	b = append(b, `,"sort_order":`...)
	b = strconv.AppendInt(b, r.i[1].Int64, 10)
	return append(b, '}')
}

// closeImages ends the product's images and the product, and opens the participants.
func closeImages(b []byte, c *pageRow) []byte {
	b = append(b, `],"seller":`...)
	b = appendUser(b, c.i[9].Int64, c.t[3].String, nullText(c.t[4]), nullInt(c.i[10]), c.t[5].String, c.i[11].Int64, c.i[12].Int64, c.ts[3].Time)
	b = append(b, `,"published_at":`...)
	b = appendNullTime(b, nullTime(c.ts[2]))
	return append(b, `},"participants":[`...)
}

// closeConversation writes the rest of the conversation after its last part.
func closeConversation(b []byte, c *pageRow, inImages bool) []byte {
	if inImages {
		b = closeImages(b, c)
	}
	b = append(b, `],"last_message":`...)
	if !c.i[13].Valid {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, c.i[13].Int64, 10)
		b = append(b, `,"conversation_id":`...)
		b = strconv.AppendInt(b, c.i[0].Int64, 10)
		b = append(b, `,"sender_id":`...)
		b = strconv.AppendInt(b, c.i[14].Int64, 10)
		b = append(b, `,"text":`...)
		b = appendNullString(b, nullText(c.t[6]))
		b = append(b, `,"image_url":`...)
		b = appendNullString(b, nullText(c.t[7]))
		b = append(b, `,"is_read":`...)
		b = strconv.AppendBool(b, c.b1.Bool)
		b = append(b, `,"is_delivered":`...)
		b = strconv.AppendBool(b, c.b2.Bool)
		b = append(b, `,"created_at":`...)
		b = appendTime(b, c.ts[4].Time)
		b = append(b, '}')
	}
	b = append(b, `,"unread_count":`...)
	b = strconv.AppendInt(b, c.i[2].Int64, 10)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, c.ts[0].Time)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, c.ts[1].Time)
	return append(b, '}')
}

// nullText, nullInt and nullTime are a nullable column's value, nil for NULL.
func nullText(v pgtype.Text) *string {
	if !v.Valid {
		return nil
	}
	return &v.String
}

func nullInt(v pgtype.Int8) *int64 {
	if !v.Valid {
		return nil
	}
	return &v.Int64
}

func nullTime(v pgtype.Timestamptz) *time.Time {
	if !v.Valid {
		return nil
	}
	return &v.Time
}

func appendUser(b []byte, id int64, name string, avatar *string, cityID *int64, rating string, reviews, products int64, createdAt time.Time) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"display_name":`...)
	b = rest.AppendString(b, name)
	b = append(b, `,"avatar_url":`...)
	b = appendNullString(b, avatar)
	b = append(b, `,"city_id":`...)
	b = appendNullInt(b, cityID)
	b = append(b, `,"rating":`...)
	b = rest.AppendString(b, rating)
	b = append(b, `,"reviews_count":`...)
	b = strconv.AppendInt(b, reviews, 10)
	b = append(b, `,"products_count":`...)
	b = strconv.AppendInt(b, products, 10)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, createdAt)
	return append(b, '}')
}

func appendNullString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return rest.AppendString(b, *s)
}

func appendNullInt(b []byte, n *int64) []byte {
	if n == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, *n, 10)
}

func appendNullTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return appendTime(b, *t)
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	return append(models.AppendTime(b, t), '"')
}

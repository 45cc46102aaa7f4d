// Package floor is the benchmarks' reference: the fastest honest implementation of
// GET /vendor/conversations we can write. One hand-written statement resolves the session and
// reads the page, and the answer is byte for byte what the service returns for the same page.
// It comes in two forms, because which one is less work depends on the page: JSON, where
// PostgreSQL builds the response's text, and Rows (rows.go), where it returns the page's rows
// and Go writes the text. The bench measures both and compares the service with the faster.
// It exists to measure the service against, not to serve.
package floor

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/partizap/vendor-inbox/httpserver"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/rest"
)

// JSON fragments of the statement. PostgreSQL's json_build_object writes `"k" : v`, not the
// compact form the service returns, so the text is concatenated by hand; to_json escapes
// strings (the same as Go's encoder for everything but U+2028/U+2029, which the data lacks).
func jsonStr(expr string) string      { return "to_json(" + expr + ")::text" }
func jsonNullable(expr string) string { return "coalesce(to_json(" + expr + ")::text, 'null')" }

// jsonTime renders a timestamp as models.FormatTime does: RFC 3339 in UTC, fraction trimmed.
// Two rtrims trim the fraction's zeros and then a bare dot at half the cost of a regexp: the
// first stops at the dot, so the seconds' own zeros stay.
func jsonTime(expr string) string {
	return `('"' || rtrim(rtrim(to_char(` + expr + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z"')`
}

// jsonObject writes one object with one concat: a chain of || copied the growing text once
// per field. concat reads NULL as empty text, so every value that can be NULL is coalesced to
// its JSON (null, [] or {}) where it is written.
func jsonObject(fields ...[2]string) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		sep := ","
		if i == 0 {
			sep = "{"
		}
		parts[i] = fmt.Sprintf("'%s\"%s\":', %s", sep, f[0], f[1])
	}
	return "concat(" + strings.Join(parts, ", ") + ", '}')"
}

func userJSON(u string) string {
	return jsonObject(
		[2]string{"id", u + ".id::text"},
		[2]string{"display_name", jsonStr(u + ".display_name")},
		[2]string{"avatar_url", jsonNullable(u + ".avatar_url")},
		[2]string{"city_id", jsonNullable(u + ".city_id")},
		[2]string{"rating", jsonStr(u + ".rating::text")},
		[2]string{"reviews_count", u + ".reviews_count::text"},
		[2]string{"products_count", u + ".products_count::text"},
		[2]string{"created_at", jsonTime(u + ".created_at")},
	)
}

// floorQuery returns the statement; with a cursor it takes the position after it.
func floorQuery(withCursor bool) string {
	after := ""
	if withCursor {
		after = "AND (c.updated_at, c.id) < ($3, $4)"
	}
	image := jsonObject(
		[2]string{"id", "i.id::text"},
		[2]string{"thumbnail_webp", jsonStr("i.thumbnail_webp")},
		[2]string{"thumbnail_jpeg", jsonStr("i.thumbnail_jpeg")},
		[2]string{"medium_webp", jsonStr("i.medium_webp")},
		[2]string{"medium_jpeg", jsonStr("i.medium_jpeg")},
		[2]string{"large_webp", jsonStr("i.large_webp")},
		[2]string{"large_jpeg", jsonStr("i.large_jpeg")},
		[2]string{"status", jsonStr("i.status")},
		[2]string{"is_primary", "i.is_primary::text"},
		[2]string{"sort_order", "i.sort_order::text"},
	)
	message := jsonObject(
		[2]string{"id", "m.id::text"},
		[2]string{"conversation_id", "m.conversation_id::text"},
		[2]string{"sender_id", "m.sender_id::text"},
		[2]string{"text", jsonNullable("m.text")},
		[2]string{"image_url", jsonNullable("m.image_url")},
		[2]string{"is_read", "m.is_read::text"},
		[2]string{"is_delivered", "m.is_delivered::text"},
		[2]string{"created_at", jsonTime("m.created_at")},
	)
	product := jsonObject(
		[2]string{"id", "p.id::text"},
		[2]string{"title", jsonStr("p.title")},
		[2]string{"price", "p.price::text"},
		[2]string{"steering", jsonNullable("p.steering")},
		[2]string{"city_id", "p.city_id::text"},
		[2]string{"region_id", "p.region_id::text"},
		[2]string{"district_id", jsonNullable("p.district_id")},
		[2]string{"metro_station_id", jsonNullable("p.metro_station_id")},
		[2]string{"metro_distance_m", jsonNullable("p.metro_distance_m")},
		[2]string{"address_id", jsonNullable("p.address_id")},
		[2]string{"images", "coalesce((SELECT '[' || string_agg(" + image + ", ',' ORDER BY i.sort_order, i.id) || ']' FROM product_images i WHERE i.product_id = p.id), '[]')"},
		[2]string{"seller", "(SELECT " + userJSON("s") + " FROM users s WHERE s.id = p.seller_id)"},
		[2]string{"published_at", "coalesce(" + jsonTime("p.published_at") + ", 'null')"},
	)
	conversation := jsonObject(
		[2]string{"id", "c.id::text"},
		[2]string{"product_id", "c.product_id::text"},
		[2]string{"product", product},
		[2]string{"participants", "coalesce((SELECT '[' || string_agg(" + userJSON("u") + ", ',' ORDER BY cp.joined_at, cp.user_id) || ']' FROM conversation_participants cp JOIN users u ON u.id = cp.user_id WHERE cp.conversation_id = c.id), '[]')"},
		[2]string{"last_message", "coalesce((SELECT " + message + " FROM messages m WHERE m.conversation_id = c.id ORDER BY m.created_at DESC, m.id DESC LIMIT 1), 'null')"},
		// The page is the viewer's inbox as the seller: their unread count is the read state
		// kept on the conversation, as the service reads it.
		[2]string{"unread_count", "c.seller_unread_count::text"},
		[2]string{"created_at", jsonTime("c.created_at")},
		[2]string{"updated_at", jsonTime("c.updated_at")},
	)
	// The viewer is a scalar subquery, not a join: with the seller's id known as a parameter,
	// the inbox index is read in order and the scan stops after the page (a join made
	// PostgreSQL read all 50,000 conversations of the busiest vendor, then sort them). The page
	// is MATERIALIZED once and numbered on the way; each nested part is one index probe per
	// row of it.
	return `WITH viewer AS MATERIALIZED (
	SELECT user_id FROM sessions WHERE id_hash = $1 AND expires_at > now()
), page AS MATERIALIZED (
	SELECT c.id, c.product_id, c.seller_id, c.created_at, c.updated_at, c.seller_unread_count,
		row_number() OVER (ORDER BY c.updated_at DESC, c.id DESC) AS n
	FROM conversations c
	WHERE c.seller_id = (SELECT user_id FROM viewer) ` + after + `
	ORDER BY c.updated_at DESC, c.id DESC
	LIMIT $2 + 1
)
SELECT (SELECT count(*) FROM viewer),
	coalesce((SELECT '[' || string_agg(` + conversation + `, ',' ORDER BY c.n) || ']'
		FROM page c JOIN products p ON p.id = c.product_id WHERE c.n <= $2), '[]'),
	(SELECT count(*) FROM page) > $2,
	(SELECT updated_at FROM page WHERE n = $2),
	(SELECT id FROM page WHERE n = $2)`
}

// Form is how the floor's statement returns the page.
type Form int

const (
	// JSON: the statement returns the page's JSON text, built by PostgreSQL.
	JSON Form = iota
	// Rows: the statement returns the page's rows, each nested part as rows of its own, and
	// Go writes the text.
	Rows
)

// Floor serves the REST endpoint from one statement per request.
type Floor struct {
	pool    *pgxpool.Pool
	cursors *models.Cursors
	form    Form
	first   string // the statement of a first page
	next    string // the statement of a page after a cursor
}

// New returns the floor in form over pool, encoding cursors as the service does.
func New(pool *pgxpool.Pool, cursors *models.Cursors, form Form) *Floor {
	f := &Floor{pool: pool, cursors: cursors, form: form}
	if form == Rows {
		f.first, f.next = rowsQuery(false), rowsQuery(true)
	} else {
		f.first, f.next = floorQuery(false), floorQuery(true)
	}
	return f
}

// Page appends the response body of a page to dst; ok is false for an unknown or expired
// session.
func (f *Floor) Page(ctx context.Context, dst []byte, sessionID string, limit int, cursor *models.InboxKey) (body []byte, ok bool, err error) {
	if f.form == Rows {
		return f.rowsPage(ctx, dst, sessionID, limit, cursor)
	}
	hash := sha256.Sum256([]byte(sessionID))
	var row pgx.Row
	if cursor == nil {
		row = f.pool.QueryRow(ctx, f.first, hash[:], limit)
	} else {
		row = f.pool.QueryRow(ctx, f.next, hash[:], limit, cursor.UpdatedAt, cursor.ID)
	}
	var viewers int
	var data string
	var more bool
	var lastAt *time.Time
	var lastID *int64
	if err := row.Scan(&viewers, &data, &more, &lastAt, &lastID); err != nil {
		return nil, false, err
	}
	if viewers == 0 {
		return nil, false, nil
	}
	b := append(dst, `{"data":`...)
	b = append(b, data...)
	return f.appendMeta(b, more && lastID != nil && lastAt != nil, lastAt, lastID), true, nil
}

// appendMeta ends a page's body after its data: its meta, with the cursor after the page's
// last conversation when more follow.
func (f *Floor) appendMeta(b []byte, more bool, lastAt *time.Time, lastID *int64) []byte {
	b = append(b, `,"meta":{"has_more":`...)
	b = strconv.AppendBool(b, more)
	b = append(b, `,"next_cursor":`...)
	if more {
		b = rest.AppendString(b, f.cursors.Encode(models.InboxKey{UpdatedAt: *lastAt, ID: *lastID}))
	} else {
		b = append(b, "null"...)
	}
	return append(b, "}}\n"...)
}

// bodies holds the buffers pages are written into, as the service's REST handler keeps its own:
// the floor must not pay for a new one each request where the service does not.
var bodies = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBody is the largest buffer put back in bodies.
const maxPooledBody = 1 << 20

func (f *Floor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := models.DefaultPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > models.MaxPageSize {
			http.Error(w, `{"error":{"code":"invalid_limit","message":"limit must be an integer from 1 to 100"}}`, http.StatusBadRequest)
			return
		}
		limit = n
	}
	var cursor *models.InboxKey
	if v := q.Get("cursor"); v != "" {
		k, err := f.cursors.Decode(v)
		if err != nil {
			http.Error(w, `{"error":{"code":"invalid_cursor","message":"bad cursor"}}`, http.StatusBadRequest)
			return
		}
		cursor = &k
	}
	c, err := r.Cookie(httpserver.SessionCookie)
	if err != nil {
		http.Error(w, `{"error":{"code":"unauthenticated","message":"sign in"}}`, http.StatusUnauthorized)
		return
	}
	buf := bodies.Get().(*[]byte)
	body, ok, err := f.Page(r.Context(), (*buf)[:0], c.Value, limit, cursor)
	switch {
	case err != nil:
		http.Error(w, `{"error":{"code":"internal_error","message":"internal error"}}`, http.StatusInternalServerError)
	case !ok:
		http.Error(w, `{"error":{"code":"unauthenticated","message":"sign in"}}`, http.StatusUnauthorized)
	default:
		// The service's headers: a Content-Length, not a chunked body.
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}
	if cap(body) <= maxPooledBody {
		*buf = body[:0]
		bodies.Put(buf)
	}
}

// FirstPage is the statement of a first page and its arguments for sessionID: for studying
// its plans beside the service's.
func (f *Floor) FirstPage(sessionID string, limit int) (sql string, args []any) {
	hash := sha256.Sum256([]byte(sessionID))
	return f.first, []any{hash[:], limit}
}

// Explain runs the first page's statement for sessionID under EXPLAIN (ANALYZE, BUFFERS) and
// returns PostgreSQL's plan: the evidence that the floor is the least work, one index probe
// per nested part of each row and no per-row re-evaluation.
func (f *Floor) Explain(ctx context.Context, sessionID string, limit int) (string, error) {
	hash := sha256.Sum256([]byte(sessionID))
	rows, err := f.pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "+f.first, hash[:], limit)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		plan.WriteString(line + "\n")
	}
	return plan.String(), rows.Err()
}

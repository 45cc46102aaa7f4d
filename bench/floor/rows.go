package floor

import (
	"context"
	"crypto/sha256"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/rest"
)

// rowsQuery is the floor's statement in its rows form: one row per conversation of the page,
// nested parts as columns (product and seller by join; images and participants as arrays, one
// per field; the last message by a lateral index probe), and Go writes the JSON. Building
// JSON text costs PostgreSQL about 9 µs an object, more than the service's Go spends writing
// it, so a floor that leaves the text to Go is less work for the same bytes.
//
// The viewer is the outer row: no row means no session, one row with a NULL id an empty page.
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
SELECT (SELECT count(*) FROM page) > $2,
	r.id, r.product_id, r.seller_unread_count, r.created_at, r.updated_at,
	r.title, r.price, r.steering, r.city_id, r.region_id, r.district_id, r.metro_station_id,
	r.metro_distance_m, r.address_id, r.published_at,
	r.s_id, r.s_display_name, r.s_avatar_url, r.s_city_id, r.s_rating, r.s_reviews_count,
	r.s_products_count, r.s_created_at,
	r.i_id, r.i_thumbnail_webp, r.i_thumbnail_jpeg, r.i_medium_webp, r.i_medium_jpeg,
	r.i_large_webp, r.i_large_jpeg, r.i_status, r.i_is_primary, r.i_sort_order,
	r.u_id, r.u_display_name, r.u_avatar_url, r.u_city_id, r.u_rating, r.u_reviews_count,
	r.u_products_count, r.u_created_at,
	r.m_id, r.m_sender_id, r.m_text, r.m_image_url, r.m_is_read, r.m_is_delivered, r.m_created_at
FROM viewer
LEFT JOIN LATERAL (
	SELECT c.n, c.id, c.product_id, c.seller_unread_count, c.created_at, c.updated_at,
		p.title, p.price, p.steering, p.city_id, p.region_id, p.district_id, p.metro_station_id,
		p.metro_distance_m, p.address_id, p.published_at,
		s.id AS s_id, s.display_name AS s_display_name, s.avatar_url AS s_avatar_url,
		s.city_id AS s_city_id, s.rating::text AS s_rating, s.reviews_count AS s_reviews_count,
		s.products_count AS s_products_count, s.created_at AS s_created_at,
		i.*, u.*, m.*
	FROM page c
	JOIN products p ON p.id = c.product_id
	JOIN users s ON s.id = p.seller_id
	CROSS JOIN LATERAL (
		SELECT array_agg(i.id ORDER BY i.sort_order, i.id) AS i_id,
			array_agg(i.thumbnail_webp ORDER BY i.sort_order, i.id) AS i_thumbnail_webp,
			array_agg(i.thumbnail_jpeg ORDER BY i.sort_order, i.id) AS i_thumbnail_jpeg,
			array_agg(i.medium_webp ORDER BY i.sort_order, i.id) AS i_medium_webp,
			array_agg(i.medium_jpeg ORDER BY i.sort_order, i.id) AS i_medium_jpeg,
			array_agg(i.large_webp ORDER BY i.sort_order, i.id) AS i_large_webp,
			array_agg(i.large_jpeg ORDER BY i.sort_order, i.id) AS i_large_jpeg,
			array_agg(i.status ORDER BY i.sort_order, i.id) AS i_status,
			array_agg(i.is_primary ORDER BY i.sort_order, i.id) AS i_is_primary,
			array_agg(i.sort_order ORDER BY i.sort_order, i.id) AS i_sort_order
		FROM product_images i WHERE i.product_id = p.id
	) i
	CROSS JOIN LATERAL (
		SELECT array_agg(u.id ORDER BY cp.joined_at, cp.user_id) AS u_id,
			array_agg(u.display_name ORDER BY cp.joined_at, cp.user_id) AS u_display_name,
			array_agg(u.avatar_url ORDER BY cp.joined_at, cp.user_id) AS u_avatar_url,
			array_agg(u.city_id ORDER BY cp.joined_at, cp.user_id) AS u_city_id,
			array_agg(u.rating::text ORDER BY cp.joined_at, cp.user_id) AS u_rating,
			array_agg(u.reviews_count ORDER BY cp.joined_at, cp.user_id) AS u_reviews_count,
			array_agg(u.products_count ORDER BY cp.joined_at, cp.user_id) AS u_products_count,
			array_agg(u.created_at ORDER BY cp.joined_at, cp.user_id) AS u_created_at
		FROM conversation_participants cp JOIN users u ON u.id = cp.user_id
		WHERE cp.conversation_id = c.id
	) u
	LEFT JOIN LATERAL (
		SELECT m.id AS m_id, m.sender_id AS m_sender_id, m.text AS m_text,
			m.image_url AS m_image_url, m.is_read AS m_is_read,
			m.is_delivered AS m_is_delivered, m.created_at AS m_created_at
		FROM messages m WHERE m.conversation_id = c.id
		ORDER BY m.created_at DESC, m.id DESC LIMIT 1
	) m ON true
	WHERE c.n <= $2
) r ON true
ORDER BY r.n`
}

// pageRow is one row of rowsQuery, scanned in place: its slices are the nested arrays.
type pageRow struct {
	more                                         bool
	id, productID, unread                        *int64
	createdAt, updatedAt                         *time.Time
	title                                        *string
	price, cityID, regionID                      *int64
	steering, addressID                          *string
	districtID, metroStationID, metroDistanceM   *int64
	publishedAt                                  *time.Time
	sID, sCityID, sReviews, sProducts            *int64
	sName, sRating                               *string
	sAvatar                                      *string
	sCreatedAt                                   *time.Time
	iID, iSortOrder                              []int64
	iThumbWebp, iThumbJpeg, iMediumWebp          []string
	iMediumJpeg, iLargeWebp, iLargeJpeg, iStatus []string
	iPrimary                                     []bool
	uID, uCityID, uReviews, uProducts            []*int64
	uName, uAvatar, uRating                      []*string
	uCreatedAt                                   []time.Time
	mID, mSenderID                               *int64
	mText, mImageURL                             *string
	mRead, mDelivered                            *bool
	mCreatedAt                                   *time.Time
}

func (r *pageRow) dest() []any {
	return []any{&r.more,
		&r.id, &r.productID, &r.unread, &r.createdAt, &r.updatedAt,
		&r.title, &r.price, &r.steering, &r.cityID, &r.regionID, &r.districtID, &r.metroStationID,
		&r.metroDistanceM, &r.addressID, &r.publishedAt,
		&r.sID, &r.sName, &r.sAvatar, &r.sCityID, &r.sRating, &r.sReviews, &r.sProducts, &r.sCreatedAt,
		&r.iID, &r.iThumbWebp, &r.iThumbJpeg, &r.iMediumWebp, &r.iMediumJpeg, &r.iLargeWebp,
		&r.iLargeJpeg, &r.iStatus, &r.iPrimary, &r.iSortOrder,
		&r.uID, &r.uName, &r.uAvatar, &r.uCityID, &r.uRating, &r.uReviews, &r.uProducts, &r.uCreatedAt,
		&r.mID, &r.mSenderID, &r.mText, &r.mImageURL, &r.mRead, &r.mDelivered, &r.mCreatedAt,
	}
}

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
	var r pageRow
	dest := r.dest()
	b := append(dst, `{"data":[`...)
	n := 0
	var lastAt time.Time
	var lastID int64
	for rows.Next() {
		ok = true
		if err := rows.Scan(dest...); err != nil {
			return nil, false, err
		}
		if r.id == nil {
			continue // the viewer's empty page
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		lastAt, lastID = *r.updatedAt, *r.id
		b = r.appendConversation(b)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	if !ok {
		return nil, false, nil
	}
	b = append(b, ']')
	return f.appendMeta(b, r.more && n > 0, &lastAt, &lastID), true, nil
}

func (r *pageRow) appendConversation(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, *r.id, 10)
	b = append(b, `,"product_id":`...)
	b = strconv.AppendInt(b, *r.productID, 10)
	b = append(b, `,"product":{"id":`...)
	b = strconv.AppendInt(b, *r.productID, 10)
	b = append(b, `,"title":`...)
	b = rest.AppendString(b, *r.title)
	b = append(b, `,"price":`...)
	b = strconv.AppendInt(b, *r.price, 10)
	b = append(b, `,"steering":`...)
	b = appendNullString(b, r.steering)
	b = append(b, `,"city_id":`...)
	b = strconv.AppendInt(b, *r.cityID, 10)
	b = append(b, `,"region_id":`...)
	b = strconv.AppendInt(b, *r.regionID, 10)
	b = append(b, `,"district_id":`...)
	b = appendNullInt(b, r.districtID)
	b = append(b, `,"metro_station_id":`...)
	b = appendNullInt(b, r.metroStationID)
	b = append(b, `,"metro_distance_m":`...)
	b = appendNullInt(b, r.metroDistanceM)
	b = append(b, `,"address_id":`...)
	b = appendNullString(b, r.addressID)
	b = append(b, `,"images":[`...)
	for i := range r.iID {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, r.iID[i], 10)
		b = append(b, `,"thumbnail_webp":`...)
		b = rest.AppendString(b, r.iThumbWebp[i])
		b = append(b, `,"thumbnail_jpeg":`...)
		b = rest.AppendString(b, r.iThumbJpeg[i])
		b = append(b, `,"medium_webp":`...)
		b = rest.AppendString(b, r.iMediumWebp[i])
		b = append(b, `,"medium_jpeg":`...)
		b = rest.AppendString(b, r.iMediumJpeg[i])
		b = append(b, `,"large_webp":`...)
		b = rest.AppendString(b, r.iLargeWebp[i])
		b = append(b, `,"large_jpeg":`...)
		b = rest.AppendString(b, r.iLargeJpeg[i])
		b = append(b, `,"status":`...)
		b = rest.AppendString(b, r.iStatus[i])
		b = append(b, `,"is_primary":`...)
		b = strconv.AppendBool(b, r.iPrimary[i])
		b = append(b, `,"sort_order":`...)
		b = strconv.AppendInt(b, r.iSortOrder[i], 10)
		b = append(b, '}')
	}
	b = append(b, `],"seller":`...)
	b = appendUser(b, *r.sID, *r.sName, r.sAvatar, r.sCityID, *r.sRating, *r.sReviews, *r.sProducts, *r.sCreatedAt)
	b = append(b, `,"published_at":`...)
	b = appendNullTime(b, r.publishedAt)
	b = append(b, `},"participants":[`...)
	for i := range r.uID {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendUser(b, *r.uID[i], *r.uName[i], r.uAvatar[i], r.uCityID[i], *r.uRating[i], *r.uReviews[i], *r.uProducts[i], r.uCreatedAt[i])
	}
	b = append(b, `],"last_message":`...)
	if r.mID == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, *r.mID, 10)
		b = append(b, `,"conversation_id":`...)
		b = strconv.AppendInt(b, *r.id, 10)
		b = append(b, `,"sender_id":`...)
		b = strconv.AppendInt(b, *r.mSenderID, 10)
		b = append(b, `,"text":`...)
		b = appendNullString(b, r.mText)
		b = append(b, `,"image_url":`...)
		b = appendNullString(b, r.mImageURL)
		b = append(b, `,"is_read":`...)
		b = strconv.AppendBool(b, *r.mRead)
		b = append(b, `,"is_delivered":`...)
		b = strconv.AppendBool(b, *r.mDelivered)
		b = append(b, `,"created_at":`...)
		b = appendTime(b, *r.mCreatedAt)
		b = append(b, '}')
	}
	b = append(b, `,"unread_count":`...)
	b = strconv.AppendInt(b, *r.unread, 10)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, *r.createdAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, *r.updatedAt)
	return append(b, '}')
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

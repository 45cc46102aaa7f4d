package models

import (
	"slices"
	"time"

	"gorm.io/gorm"
)

// The models a page of the inbox reads many rows of are scanned straight into their fields:
// GORM's scanning allocates a reflected value per column per row and measured the largest part
// of a REST page's allocations. GORM still builds every statement and runs its callbacks
// (statement counting, deadlines). Each list of columns is the model's columns in field order,
// which its targets follow (TestScanColumnsAreTheModels).
var (
	userColumns         = []string{"id", "display_name", "avatar_url", "city_id", "rating", "reviews_count", "products_count", "created_at"}
	productColumns      = []string{"id", "seller_id", "title", "price", "steering", "city_id", "region_id", "district_id", "metro_station_id", "metro_distance_m", "address_id", "published_at", "created_at"}
	imageColumns        = []string{"id", "product_id", "thumbnail_webp", "thumbnail_jpeg", "medium_webp", "medium_jpeg", "large_webp", "large_jpeg", "status", "is_primary", "sort_order"}
	conversationColumns = []string{"id", "product_id", "seller_id", "created_at", "updated_at", "seller_unread_count"}
	messageColumns      = []string{"id", "conversation_id", "sender_id", "text", "image_url", "is_read", "is_delivered", "created_at", "client_mutation_id"}
)

func (u *User) targets() []any {
	return []any{&u.ID, &u.DisplayName, &u.AvatarURL, &u.CityID, &u.Rating, &u.ReviewsCount, &u.ProductsCount, &u.CreatedAt}
}

func (p *Product) targets() []any {
	return []any{&p.ID, &p.SellerID, &p.Title, &p.Price, &p.Steering, &p.CityID, &p.RegionID, &p.DistrictID,
		&p.MetroStationID, &p.MetroDistanceM, &p.AddressID, &p.PublishedAt, &p.CreatedAt}
}

func (i *ProductImage) targets() []any {
	return []any{&i.ID, &i.ProductID, &i.ThumbnailWebp, &i.ThumbnailJpeg, &i.MediumWebp, &i.MediumJpeg,
		&i.LargeWebp, &i.LargeJpeg, &i.Status, &i.IsPrimary, &i.SortOrder}
}

func (c *Conversation) targets() []any {
	return []any{&c.ID, &c.ProductID, &c.SellerID, &c.CreatedAt, &c.UpdatedAt, &c.SellerUnreadCount}
}

func (m *Message) targets() []any {
	return []any{&m.ID, &m.ConversationID, &m.SenderID, &m.Text, &m.ImageURL, &m.IsRead, &m.IsDelivered, &m.CreatedAt, &m.ClientMutationID}
}

// Columns returns the columns of a model scanned without GORM (a *User, *Product,
// *ProductImage, *Conversation or *Message), in field order, or nil for another type: what
// writes every column, such as the seed's COPY, uses the same lists.
func Columns(model any) []string {
	var c []string
	switch model.(type) {
	case *User:
		c = userColumns
	case *Product:
		c = productColumns
	case *ProductImage:
		c = imageColumns
	case *Conversation:
		c = conversationColumns
	case *Message:
		c = messageColumns
	}
	return slices.Clone(c)
}

// Columns of joined tables, made once: they are part of statements of every page.
var (
	participantUserColumns = append([]string{"p.conversation_id"}, qualified("u", userColumns)...)
	aliasedMessageColumns  = qualified("m", messageColumns)
	sessionUserColumns     = append([]string{"s.expires_at"}, qualified("u", userColumns)...) // and when it ends
)

// optionalMessage scans a message's columns from an outer join, NULL when there is none.
type optionalMessage struct {
	id, conversationID, senderID *int64
	isRead, isDelivered          *bool
	createdAt                    *time.Time
	m                            Message // the nullable columns, scanned in place
}

func (o *optionalMessage) targets() []any {
	return []any{&o.id, &o.conversationID, &o.senderID, &o.m.Text, &o.m.ImageURL, &o.isRead, &o.isDelivered, &o.createdAt, &o.m.ClientMutationID}
}

// message is the message scanned, or nil when its columns were NULL (or never scanned).
func (o *optionalMessage) message() *Message {
	if o.id == nil {
		return nil
	}
	m := o.m
	m.ID, m.ConversationID, m.SenderID = *o.id, *o.conversationID, *o.senderID
	m.IsRead, m.IsDelivered, m.CreatedAt = *o.isRead, *o.isDelivered, *o.createdAt
	return &m
}

// qualified is columns prefixed with a table alias.
func qualified(alias string, columns []string) []string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = alias + "." + c
	}
	return out
}

// scanRows runs q, which must select exactly what each row's targets scan, and returns a new T
// per row. prefix, when not nil, adds targets scanned before the model's own (a key the row
// belongs to).
func scanRows[T any, PT interface {
	*T
	targets() []any
}](q *gorm.DB, prefix func(*T) []any) ([]*T, error) {
	var out []*T
	err := eachRow(q, func(scan func(dest ...any) error) error {
		v := new(T)
		targets := PT(v).targets()
		if prefix != nil {
			targets = append(prefix(v), targets...)
		}
		if err := scan(targets...); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// eachRow runs q and calls row with each row's Scan, in order, until row fails.
func eachRow(q *gorm.DB, row func(scan func(dest ...any) error) error) error {
	rows, err := q.Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	scan := rows.Scan // one method value for all the rows, not one allocated a row
	for rows.Next() {
		if err := row(scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

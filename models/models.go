// Package models holds the domain of the vendor inbox: the GORM models (bound directly to the
// GraphQL types), the rules each obeys, and the only code that queries them.
//
// Every query that returns private data takes the viewer's user id as an argument, so no caller
// can forget the visibility rule: a conversation, its participants and its messages are visible
// only to the conversation's participants; a product, see Product. Users are public.
package models

import (
	"time"
)

// Node is an entity addressable by a global id in GraphQL (Relay's Node interface).
type Node interface{ isNode() }

// User is a public profile; buyers and sellers ("vendors") alike are users.
type User struct {
	ID            int64 `gorm:"primaryKey"`
	DisplayName   string
	AvatarURL     *string `gorm:"column:avatar_url"`
	CityID        *int64
	Rating        string `gorm:"type:numeric(3,2)"` // a decimal kept as text, e.g. "4.85"
	ReviewsCount  int
	ProductsCount int
	CreatedAt     time.Time
}

// Product is a listing. It is visible to its seller, to anyone once published (PublishedAt
// set), and to every participant of a conversation about it: a buyer talking about a product
// keeps seeing it when the seller takes it back to draft, and a conversation never shows a
// product that node(id) would hide. Store.ProductsByID applies the rule in its query, so every
// path to a product (node, nodes, a conversation's product) answers the same.
type Product struct {
	ID             int64 `gorm:"primaryKey"`
	SellerID       int64
	Title          string
	Price          int64 // whole rubles
	Steering       *string
	CityID         int64
	RegionID       int64
	DistrictID     *int64
	MetroStationID *int64
	MetroDistanceM *int
	AddressID      *string
	PublishedAt    *time.Time
	CreatedAt      time.Time

	// Images and Seller are set by the loaders' prefetch of the fields a request reads
	// (loaders.Prefetch…): GraphQL reads them as plain fields, not through a resolver each.
	Images []*ProductImage `gorm:"-"`
	Seller *User           `gorm:"-"`
}

// ProductImage is one picture of a product in six renditions; a product's images are shown in
// SortOrder order.
type ProductImage struct {
	ID            int64 `gorm:"primaryKey"`
	ProductID     int64
	ThumbnailWebp string
	ThumbnailJpeg string
	MediumWebp    string
	MediumJpeg    string
	LargeWebp     string
	LargeJpeg     string
	Status        string
	IsPrimary     bool
	SortOrder     int
}

// Conversation is a thread between a buyer and the seller about one product. Its SellerID is the
// product's seller (the schema enforces it). UpdatedAt moves forward when a message is added; a
// vendor's inbox lists the conversations they sell in, UpdatedAt descending, ID descending.
type Conversation struct {
	ID        int64 `gorm:"primaryKey"`
	ProductID int64
	SellerID  int64
	CreatedAt time.Time
	UpdatedAt time.Time `gorm:"autoCreateTime;autoUpdateTime:false"` // set by the code adding a message
	// SellerUnreadCount is how many messages from the buyer the seller has not read: the read
	// state the inbox filters on, kept exact by Store.SendMessage and MarkConversationRead.
	SellerUnreadCount int

	// The nested data, set by the loaders' prefetch of the fields a request reads, for the
	// viewer the loaders serve (see loaders.PrefetchConversations).
	Product      *Product `gorm:"-"`
	Participants []*User  `gorm:"-"`
	LastMessage  *Message `gorm:"-"`
	UnreadCount  int      `gorm:"-"`
}

// InboxKey is the conversation's position in its seller's inbox.
func (c *Conversation) InboxKey() InboxKey { return InboxKey{UpdatedAt: c.UpdatedAt, ID: c.ID} }

// Participant records that a user takes part in a conversation; the seller always does.
type Participant struct {
	ConversationID int64     `gorm:"primaryKey"`
	UserID         int64     `gorm:"primaryKey"`
	JoinedAt       time.Time `gorm:"autoCreateTime"`
}

// TableName binds Participant to its table.
func (Participant) TableName() string { return "conversation_participants" }

// Message is one message of a conversation, written by one of its participants. A message is
// unread for a user when someone else sent it and IsRead is false.
type Message struct {
	ID             int64 `gorm:"primaryKey"`
	ConversationID int64
	SenderID       int64
	Text           *string
	ImageURL       *string `gorm:"column:image_url"`
	IsRead         bool
	IsDelivered    bool
	CreatedAt      time.Time
	// ClientMutationID is the sender's key for the message (SendMessage): unique per sender.
	ClientMutationID *string

	Sender *User `gorm:"-"` // set by the loaders' prefetch when a request reads it
}

// Session is a signed-in browser. Only the SHA-256 of the cookie value is stored.
type Session struct {
	IDHash    []byte `gorm:"primaryKey;column:id_hash"`
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

func (User) isNode()         {}
func (Product) isNode()      {}
func (Conversation) isNode() {}
func (Message) isNode()      {}

// FormatTime renders a timestamp as the API shows it everywhere: RFC 3339 in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// AppendTime appends t as FormatTime writes it.
func AppendTime(b []byte, t time.Time) []byte { return t.UTC().AppendFormat(b, time.RFC3339Nano) }

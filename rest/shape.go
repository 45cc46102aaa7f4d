package rest

import (
	"fmt"
	"time"

	"github.com/partizap/vendor-inbox/models"
)

// The documented shapes. Field order is the documented key order; every key is always present,
// absent values are null. These are renderings of models, not a second set of models.
// encode.go writes them as the endpoint's answer; a change here needs the same change there.

type listResponse struct {
	Data []conversation `json:"data"`
	Meta meta           `json:"meta"`
}

type meta struct {
	HasMore    bool    `json:"has_more"`
	NextCursor *string `json:"next_cursor"`
}

type conversation struct {
	ID           int64    `json:"id"`
	ProductID    int64    `json:"product_id"`
	Product      product  `json:"product"`
	Participants []user   `json:"participants"`
	LastMessage  *message `json:"last_message"`
	UnreadCount  int      `json:"unread_count"`
	CreatedAt    string   `json:"created_at"`
	UpdatedAt    string   `json:"updated_at"`
}

type product struct {
	ID             int64   `json:"id"`
	Title          string  `json:"title"`
	Price          int64   `json:"price"`
	Steering       *string `json:"steering"`
	CityID         int64   `json:"city_id"`
	RegionID       int64   `json:"region_id"`
	DistrictID     *int64  `json:"district_id"`
	MetroStationID *int64  `json:"metro_station_id"`
	MetroDistanceM *int    `json:"metro_distance_m"`
	AddressID      *string `json:"address_id"`
	Images         []image `json:"images"`
	Seller         user    `json:"seller"`
	PublishedAt    *string `json:"published_at"`
}

type image struct {
	ID            int64  `json:"id"`
	ThumbnailWebp string `json:"thumbnail_webp"`
	ThumbnailJpeg string `json:"thumbnail_jpeg"`
	MediumWebp    string `json:"medium_webp"`
	MediumJpeg    string `json:"medium_jpeg"`
	LargeWebp     string `json:"large_webp"`
	LargeJpeg     string `json:"large_jpeg"`
	Status        string `json:"status"`
	IsPrimary     bool   `json:"is_primary"`
	SortOrder     int    `json:"sort_order"`
}

type user struct {
	ID            int64   `json:"id"`
	DisplayName   string  `json:"display_name"`
	AvatarURL     *string `json:"avatar_url"`
	CityID        *int64  `json:"city_id"`
	Rating        string  `json:"rating"`
	ReviewsCount  int     `json:"reviews_count"`
	ProductsCount int     `json:"products_count"`
	CreatedAt     string  `json:"created_at"`
}

type message struct {
	ID             int64   `json:"id"`
	ConversationID int64   `json:"conversation_id"`
	SenderID       int64   `json:"sender_id"`
	Text           *string `json:"text"`
	ImageURL       *string `json:"image_url"`
	IsRead         bool    `json:"is_read"`
	IsDelivered    bool    `json:"is_delivered"`
	CreatedAt      string  `json:"created_at"`
}

// renderConversation renders c with the nested data the page's prefetch set on it
// (loaders.VendorInbox with AllConversationFields): the same values GraphQL reads.
func renderConversation(c *models.Conversation) (conversation, error) {
	p := c.Product
	if p == nil || p.Seller == nil {
		return conversation{}, fmt.Errorf("conversation %d was rendered before its product and seller were loaded", c.ID)
	}
	images, seller, participants, last, unread := p.Images, p.Seller, c.Participants, c.LastMessage, c.UnreadCount

	out := conversation{
		ID:        c.ID,
		ProductID: c.ProductID,
		Product: product{
			ID: p.ID, Title: p.Title, Price: p.Price, Steering: p.Steering,
			CityID: p.CityID, RegionID: p.RegionID, DistrictID: p.DistrictID,
			MetroStationID: p.MetroStationID, MetroDistanceM: p.MetroDistanceM, AddressID: p.AddressID,
			Images: make([]image, len(images)), Seller: renderUser(seller), PublishedAt: formatOptionalTime(p.PublishedAt),
		},
		Participants: make([]user, len(participants)),
		UnreadCount:  unread,
		CreatedAt:    models.FormatTime(c.CreatedAt),
		UpdatedAt:    models.FormatTime(c.UpdatedAt),
	}
	for i, im := range images {
		out.Product.Images[i] = image{
			ID: im.ID, ThumbnailWebp: im.ThumbnailWebp, ThumbnailJpeg: im.ThumbnailJpeg,
			MediumWebp: im.MediumWebp, MediumJpeg: im.MediumJpeg, LargeWebp: im.LargeWebp, LargeJpeg: im.LargeJpeg,
			Status: im.Status, IsPrimary: im.IsPrimary, SortOrder: im.SortOrder,
		}
	}
	for i, u := range participants {
		out.Participants[i] = renderUser(u)
	}
	if last != nil {
		out.LastMessage = &message{
			ID: last.ID, ConversationID: last.ConversationID, SenderID: last.SenderID, Text: last.Text,
			ImageURL: last.ImageURL, IsRead: last.IsRead, IsDelivered: last.IsDelivered,
			CreatedAt: models.FormatTime(last.CreatedAt),
		}
	}
	return out, nil
}

func renderUser(u *models.User) user {
	return user{
		ID: u.ID, DisplayName: u.DisplayName, AvatarURL: u.AvatarURL, CityID: u.CityID, Rating: u.Rating,
		ReviewsCount: u.ReviewsCount, ProductsCount: u.ProductsCount, CreatedAt: models.FormatTime(u.CreatedAt),
	}
}

func formatOptionalTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := models.FormatTime(*t)
	return &s
}

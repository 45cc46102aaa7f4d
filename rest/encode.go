package rest

import (
	"strconv"
	"unicode/utf8"
)

// The endpoint's success body is encoded by hand: encoding/json's reflection was about a tenth
// of the endpoint's CPU. Each appendJSON writes exactly what json.Encoder with
// SetEscapeHTML(false) writes for the same value (encode_test.go checks it byte for byte), so
// the shapes in shape.go stay the statement of the contract. A field added there must be
// added here in the same place; TestAppendJSONMatchesEncodingJSON fails until it is.

func (r *listResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"data":`...)
	if r.Data == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Data {
			if i > 0 {
				b = append(b, ',')
			}
			b = r.Data[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, `,"meta":`...)
	b = r.Meta.appendJSON(b)
	return append(b, '}')
}

func (m *meta) appendJSON(b []byte) []byte {
	b = append(b, `{"has_more":`...)
	b = strconv.AppendBool(b, m.HasMore)
	b = append(b, `,"next_cursor":`...)
	b = appendOptionalString(b, m.NextCursor)
	return append(b, '}')
}

func (c *conversation) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, c.ID, 10)
	b = append(b, `,"product_id":`...)
	b = strconv.AppendInt(b, c.ProductID, 10)
	b = append(b, `,"product":`...)
	b = c.Product.appendJSON(b)
	b = append(b, `,"participants":`...)
	if c.Participants == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range c.Participants {
			if i > 0 {
				b = append(b, ',')
			}
			b = c.Participants[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, `,"last_message":`...)
	if c.LastMessage == nil {
		b = append(b, "null"...)
	} else {
		b = c.LastMessage.appendJSON(b)
	}
	b = append(b, `,"unread_count":`...)
	b = strconv.AppendInt(b, int64(c.UnreadCount), 10)
	b = append(b, `,"created_at":`...)
	b = appendString(b, c.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendString(b, c.UpdatedAt)
	return append(b, '}')
}

func (p *product) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, p.ID, 10)
	b = append(b, `,"title":`...)
	b = appendString(b, p.Title)
	b = append(b, `,"price":`...)
	b = strconv.AppendInt(b, p.Price, 10)
	b = append(b, `,"steering":`...)
	b = appendOptionalString(b, p.Steering)
	b = append(b, `,"city_id":`...)
	b = strconv.AppendInt(b, p.CityID, 10)
	b = append(b, `,"region_id":`...)
	b = strconv.AppendInt(b, p.RegionID, 10)
	b = append(b, `,"district_id":`...)
	b = appendOptionalInt64(b, p.DistrictID)
	b = append(b, `,"metro_station_id":`...)
	b = appendOptionalInt64(b, p.MetroStationID)
	b = append(b, `,"metro_distance_m":`...)
	if p.MetroDistanceM == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(*p.MetroDistanceM), 10)
	}
	b = append(b, `,"address_id":`...)
	b = appendOptionalString(b, p.AddressID)
	b = append(b, `,"images":`...)
	if p.Images == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range p.Images {
			if i > 0 {
				b = append(b, ',')
			}
			b = p.Images[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, `,"seller":`...)
	b = p.Seller.appendJSON(b)
	b = append(b, `,"published_at":`...)
	b = appendOptionalString(b, p.PublishedAt)
	return append(b, '}')
}

func (im *image) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, im.ID, 10)
	b = append(b, `,"thumbnail_webp":`...)
	b = appendString(b, im.ThumbnailWebp)
	b = append(b, `,"thumbnail_jpeg":`...)
	b = appendString(b, im.ThumbnailJpeg)
	b = append(b, `,"medium_webp":`...)
	b = appendString(b, im.MediumWebp)
	b = append(b, `,"medium_jpeg":`...)
	b = appendString(b, im.MediumJpeg)
	b = append(b, `,"large_webp":`...)
	b = appendString(b, im.LargeWebp)
	b = append(b, `,"large_jpeg":`...)
	b = appendString(b, im.LargeJpeg)
	b = append(b, `,"status":`...)
	b = appendString(b, im.Status)
	b = append(b, `,"is_primary":`...)
	b = strconv.AppendBool(b, im.IsPrimary)
	b = append(b, `,"sort_order":`...)
	b = strconv.AppendInt(b, int64(im.SortOrder), 10)
	return append(b, '}')
}

func (u *user) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, u.ID, 10)
	b = append(b, `,"display_name":`...)
	b = appendString(b, u.DisplayName)
	b = append(b, `,"avatar_url":`...)
	b = appendOptionalString(b, u.AvatarURL)
	b = append(b, `,"city_id":`...)
	b = appendOptionalInt64(b, u.CityID)
	b = append(b, `,"rating":`...)
	b = appendString(b, u.Rating)
	b = append(b, `,"reviews_count":`...)
	b = strconv.AppendInt(b, int64(u.ReviewsCount), 10)
	b = append(b, `,"products_count":`...)
	b = strconv.AppendInt(b, int64(u.ProductsCount), 10)
	b = append(b, `,"created_at":`...)
	b = appendString(b, u.CreatedAt)
	return append(b, '}')
}

func (m *message) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, m.ID, 10)
	b = append(b, `,"conversation_id":`...)
	b = strconv.AppendInt(b, m.ConversationID, 10)
	b = append(b, `,"sender_id":`...)
	b = strconv.AppendInt(b, m.SenderID, 10)
	b = append(b, `,"text":`...)
	b = appendOptionalString(b, m.Text)
	b = append(b, `,"image_url":`...)
	b = appendOptionalString(b, m.ImageURL)
	b = append(b, `,"is_read":`...)
	b = strconv.AppendBool(b, m.IsRead)
	b = append(b, `,"is_delivered":`...)
	b = strconv.AppendBool(b, m.IsDelivered)
	b = append(b, `,"created_at":`...)
	b = appendString(b, m.CreatedAt)
	return append(b, '}')
}

func appendOptionalString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

func appendOptionalInt64(b []byte, n *int64) []byte {
	if n == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, *n, 10)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json escapes it with HTML
// escaping off: '"' and '\\' and the control characters (\b \f \n \r \t by name, the others
// as \u00xx); each byte that is not valid UTF-8 becomes \ufffd; U+2028 and U+2029 are escaped
// because JavaScript before ES2019 took them for line ends inside a string literal.
// Everything else, '<', '>', '&' and DEL included, is copied as it is.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0 // s[start:i] is pending, needing no escape
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendString appends s as a JSON string exactly as the endpoint writes one: for bench/floor,
// whose page must be the endpoint's byte for byte.
func AppendString(b []byte, s string) []byte { return appendString(b, s) }

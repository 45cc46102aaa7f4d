package models

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// InboxKey is the sort key of a vendor's inbox: UpdatedAt descending, then ID descending.
type InboxKey struct {
	UpdatedAt time.Time
	ID        int64
}

// Cursors encode and decode inbox positions as opaque strings. A cursor is the key and a
// truncated HMAC of it, so a client cannot forge or edit one; REST and GraphQL share one Cursors.
//
// Layout before base64url (no padding): version (1) | updated_at in µs (8) | id (8) | tag (12).
type Cursors struct{ key []byte }

const (
	cursorVersion = 1
	cursorBody    = 1 + 8 + 8
	cursorTagSize = 12
	cursorSize    = cursorBody + cursorTagSize
)

// NewCursors returns a codec signing with secret, which must be the same on every instance
// serving the same clients (cursors outlive a request, and a deploy).
func NewCursors(secret []byte) *Cursors { return &Cursors{key: append([]byte(nil), secret...)} }

// Encode returns the cursor for k in the unfiltered inbox.
func (c *Cursors) Encode(k InboxKey) string { return c.EncodeIn("", k) }

// Decode returns the key a cursor from Encode stands for, or ErrInvalidCursor.
func (c *Cursors) Decode(s string) (InboxKey, error) { return c.DecodeIn("", s) }

// EncodeIn returns the cursor for k in the list scope names: a filtered inbox
// (InboxFilter.Scope) or a conversation's messages (MessagesScope). The scope is signed with
// the key but not written into the cursor, so a cursor decodes only in the list it was issued
// for. The unfiltered inbox's scope is "", whose cursors are those of Encode, REST's too.
func (c *Cursors) EncodeIn(scope string, k InboxKey) string {
	buf := make([]byte, cursorSize)
	buf[0] = cursorVersion
	binary.BigEndian.PutUint64(buf[1:9], uint64(k.UpdatedAt.UnixMicro()))
	binary.BigEndian.PutUint64(buf[9:17], uint64(k.ID))
	copy(buf[cursorBody:], c.tag(buf[:cursorBody], scope))
	return base64.RawURLEncoding.EncodeToString(buf)
}

// ErrInvalidCursor is returned for any cursor this service did not issue for the list at hand.
var ErrInvalidCursor = &Error{Code: EINVALID, Message: "cursor is malformed, was not issued by this service, or belongs to another list or filter; use a cursor from a previous page of the same query as is"}

// DecodeIn returns the key a cursor from EncodeIn with the same scope stands for, or
// ErrInvalidCursor.
func (c *Cursors) DecodeIn(scope, s string) (InboxKey, error) {
	if base64.RawURLEncoding.EncodedLen(cursorSize) != len(s) {
		return InboxKey{}, ErrInvalidCursor
	}
	buf, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(buf) != cursorSize || buf[0] != cursorVersion {
		return InboxKey{}, ErrInvalidCursor
	}
	if !hmac.Equal(buf[cursorBody:], c.tag(buf[:cursorBody], scope)) {
		return InboxKey{}, ErrInvalidCursor
	}
	id := int64(binary.BigEndian.Uint64(buf[9:17]))
	if id <= 0 {
		return InboxKey{}, ErrInvalidCursor
	}
	micros := int64(binary.BigEndian.Uint64(buf[1:9]))
	if micros < minCursorMicros || micros > maxCursorMicros {
		return InboxKey{}, ErrInvalidCursor
	}
	return InboxKey{UpdatedAt: time.UnixMicro(micros).UTC(), ID: id}, nil
}

// A cursor's time must lie in the years 1 to 9999 (UTC), at µs precision. That is where both
// databases store and compare a timestamp faithfully: PostgreSQL's range is wider, but SQLite
// keeps times as text, which sorts in time order only with four-digit years; and it is the
// range Go can render as RFC 3339. No row has a time outside it, so a well-signed cursor
// outside it is forged or corrupt, and is refused like any other rather than handed to the
// driver to fail as an internal error.
var (
	minCursorMicros = time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxCursorMicros = time.Date(9999, time.December, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
)

// tag signs body within scope. The unscoped tag is the HMAC of the body alone, as cursors were
// signed before scopes existed, so cursors already handed out stay valid.
func (c *Cursors) tag(body []byte, scope string) []byte {
	mac := hmac.New(sha256.New, c.key)
	mac.Write(body)
	if scope != "" {
		mac.Write([]byte{0})
		mac.Write([]byte(scope))
	}
	return mac.Sum(nil)[:cursorTagSize]
}

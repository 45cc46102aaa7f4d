package models

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// Type names that appear in global ids; they are part of the ids' format, so never rename one.
const (
	TypeConversation = "Conversation"
	TypeProduct      = "Product"
	TypeUser         = "User"
	TypeMessage      = "Message"
)

// GlobalID returns the opaque global id of the object of GraphQL type typ with database id id:
// base64url (no padding) of "Type:id", as Relay servers commonly do.
// "Type:id" is built on the stack: a page of the inbox makes a hundred and more ids.
func GlobalID(typ string, id int64) string {
	var raw [48]byte // the longest type name, ':' and 19 digits fit
	return base64.RawURLEncoding.EncodeToString(strconv.AppendInt(append(append(raw[:0], typ...), ':'), id, 10))
}

// ParseGlobalID returns the type and database id of a global id made by GlobalID. Anything else,
// including another spelling of the same id, is an EINVALID error.
func ParseGlobalID(s string) (typ string, id int64, err error) {
	invalid := &Error{Code: EINVALID, Field: "id", Message: "not a global id of this API; use an `id` field's value as is"}
	if len(s) == 0 || len(s) > 64 {
		return "", 0, invalid
	}
	raw, decErr := base64.RawURLEncoding.Strict().DecodeString(s)
	if decErr != nil {
		return "", 0, invalid
	}
	typ, digits, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", 0, invalid
	}
	switch typ {
	case TypeConversation, TypeProduct, TypeUser, TypeMessage:
	default:
		return "", 0, invalid
	}
	id, convErr := strconv.ParseInt(digits, 10, 64)
	if convErr != nil || id <= 0 || strconv.FormatInt(id, 10) != digits {
		return "", 0, invalid
	}
	// The decoder skips CR and LF even when strict: only the one spelling GlobalID makes counts.
	if GlobalID(typ, id) != s {
		return "", 0, invalid
	}
	return typ, id, nil
}

// NodeID is the user's global id.
func (u *User) NodeID() string { return GlobalID(TypeUser, u.ID) }

// NodeID is the product's global id.
func (p *Product) NodeID() string { return GlobalID(TypeProduct, p.ID) }

// NodeID is the conversation's global id.
func (c *Conversation) NodeID() string { return GlobalID(TypeConversation, c.ID) }

// NodeID is the message's global id.
func (m *Message) NodeID() string { return GlobalID(TypeMessage, m.ID) }

// ConversationNodeID is the global id of the message's conversation.
func (m *Message) ConversationNodeID() string { return GlobalID(TypeConversation, m.ConversationID) }

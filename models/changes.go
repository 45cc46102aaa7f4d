package models

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"gorm.io/gorm"
)

// Change is a committed change to a conversation, as subscribers are told of it: ids only. It
// never carries content, because any session of the database may LISTEN to it, and because
// each subscriber must load its own view of the change, with its own rights.
type Change struct {
	ConversationID int64 `json:"c"`
	// SellerID is whose inbox changed: inboxUpdated's subscribers are found by it.
	SellerID int64 `json:"s"`
	// MessageID is the message added; 0 for a read receipt.
	MessageID int64 `json:"m,omitempty"`
}

// ChangesChannel is the PostgreSQL channel the changes are announced on.
const ChangesChannel = "partizap_changes"

// ParseChange reads a change from its announcement's payload.
func ParseChange(payload string) (Change, error) {
	var c Change
	if err := json.Unmarshal([]byte(payload), &c); err != nil || c.ConversationID <= 0 || c.SellerID <= 0 || c.MessageID < 0 {
		return Change{}, fmt.Errorf("not a change: %q", payload)
	}
	return c, nil
}

// Announcing says how a Store tells subscribers of the changes its writes commit. The zero
// value announces nothing.
type Announcing struct {
	// Notify sends each change with NOTIFY on ChangesChannel inside the write's transaction:
	// PostgreSQL delivers it to every listening session if and only if the transaction
	// commits, in commit order.
	Notify bool
	// Local is called with each change after its transaction has committed, in commit order
	// (the Store serializes its writes to keep that order): the fan-out of a single process,
	// on a database that cannot notify (SQLite). It must not block.
	Local func(Change)
}

// announcer runs the Store's writes so that what they commit is announced as Announcing says.
type announcer struct {
	Announcing
	ordered sync.Mutex // held from the start of a write to its Local call when Local is set
}

// write runs fn in one transaction; the change fn returns, when not nil, is announced once the
// transaction has committed, and never when it fails.
func (a *announcer) write(ctx context.Context, db *gorm.DB, fn func(tx *gorm.DB) (*Change, error)) error {
	if a.Local != nil {
		a.ordered.Lock()
		defer a.ordered.Unlock()
	}
	var change *Change
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if change, err = fn(tx); err != nil || change == nil || !a.Notify {
			return err
		}
		payload, err := json.Marshal(change)
		if err != nil {
			return err
		}
		return tx.Exec("SELECT pg_notify(?, ?)", ChangesChannel, string(payload)).Error
	})
	if err == nil && change != nil && a.Local != nil {
		a.Local(*change)
	}
	return err
}

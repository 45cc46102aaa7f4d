package models

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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

func (c Change) valid() bool { return c.ConversationID > 0 && c.SellerID > 0 && c.MessageID >= 0 }

// ChangesChannel is the PostgreSQL channel the changes are announced on.
const ChangesChannel = "partizap_changes"

// MaxPayloadBytes bounds a notification's payload made by ChangePayloads: half of what
// PostgreSQL accepts (under 8000 bytes), so that no change, however long its ids, and no
// padding can take a payload past the limit.
const MaxPayloadBytes = 4000

// ChangePayloads encodes changes, in order, as the payloads of as few notifications as hold
// them: each a JSON array of changes of at most MaxPayloadBytes, the changes in order across
// them. PostgreSQL delivers only one of identical notifications of a transaction, so a payload
// that repeats an earlier one (the same read receipts again) gets trailing spaces, which JSON
// ignores, to stay distinct.
func ChangePayloads(changes []Change) []string {
	var payloads []string
	seen := map[string]bool{}
	var b strings.Builder
	flush := func() {
		if b.Len() == 0 {
			return
		}
		b.WriteByte(']')
		p := b.String()
		for seen[p] {
			p += " "
		}
		seen[p] = true
		payloads = append(payloads, p)
		b.Reset()
	}
	for _, c := range changes {
		one, _ := json.Marshal(c) // ints only: it cannot fail
		if b.Len() > 0 && b.Len()+1+len(one)+1 > MaxPayloadBytes {
			flush()
		}
		if b.Len() == 0 {
			b.WriteByte('[')
		} else {
			b.WriteByte(',')
		}
		b.Write(one)
	}
	flush()
	return payloads
}

// ParseChanges reads the changes of one notification's payload, in order: a JSON array of
// changes (ChangePayloads), or one change as an object, which instances announced before the
// outbox (so that during a rolling deploy this instance still hears the older ones).
func ParseChanges(payload string) ([]Change, error) {
	var changes []Change
	var err error
	if strings.HasPrefix(strings.TrimSpace(payload), "{") {
		changes = make([]Change, 1)
		err = json.Unmarshal([]byte(payload), &changes[0])
	} else {
		err = json.Unmarshal([]byte(payload), &changes)
	}
	if err != nil || len(changes) == 0 {
		return nil, fmt.Errorf("not a list of changes: %q", payload)
	}
	for _, c := range changes {
		if !c.valid() {
			return nil, fmt.Errorf("not a list of changes: %q", payload)
		}
	}
	return changes, nil
}

// Announcing says how a Store tells subscribers of the changes its writes commit. The zero
// value announces nothing.
type Announcing struct {
	// Outbox records each change in live_changes inside the write's transaction (PostgreSQL),
	// for a notifier (live.Notifier) to announce: the row is there if and only if the write
	// committed. The write holds its conversation's row lock when it records the change, so the
	// rows of one conversation's changes have ids in their commit order.
	Outbox bool
	// Recorded, when not nil, is called after each transaction that recorded a change has
	// committed: it wakes the notifier. It must not block. Without it the rows wait for a
	// notifier's sweep.
	Recorded func()
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
		if change, err = fn(tx); err != nil || change == nil || !a.Outbox {
			return err
		}
		return tx.Exec("INSERT INTO live_changes (conversation_id, seller_id, message_id) VALUES (?, ?, ?)",
			change.ConversationID, change.SellerID, change.MessageID).Error
	})
	if err != nil || change == nil {
		return err
	}
	if a.Local != nil {
		a.Local(*change)
	}
	if a.Outbox && a.Recorded != nil {
		a.Recorded()
	}
	return nil
}

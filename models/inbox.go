package models

import (
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/models/database"
)

// The inbox's statement when a page comes with parts (VendorConversations with an InboxWith):
// the page is read once, as a common table expression, and each kind of row is a branch of one
// UNION ALL, so that a page and everything it shows cost one round trip:
//
//	WITH page AS (SELECT <conversation>, row_number() OVER (<order>) AS n,
//	                     <the viewer takes part> AS viewer_takes_part
//	              FROM conversations WHERE … ORDER BY <order> LIMIT k)
//	SELECT page.n, 0 AS part, page.…, p.…, m.…, i.…, pp.…, u.…    -- the header: no row
//	  FROM page, products AS p, messages AS m, … WHERE 1 = 0
//	UNION ALL SELECT page.n, 1, page.…, p.…, m.…, NULL, …         -- the conversation, product, last message
//	  FROM page CROSS JOIN products AS p LEFT JOIN messages AS m ON … AND page.viewer_takes_part
//	  WHERE p.id = page.product_id
//	UNION ALL SELECT page.n, 2, NULL, …, i.…, NULL, …             -- each image of its product
//	  FROM page CROSS JOIN product_images AS i WHERE … AND page.n < k
//	UNION ALL SELECT page.n, 3, NULL, …, pp.…, u.…                -- each participant
//	  FROM page CROSS JOIN conversation_participants AS pp CROSS JOIN users AS u WHERE … AND page.viewer_takes_part AND page.n < k
//	ORDER BY n, part, i_sort_order, i_id, pp_joined_at, u_id
//
// Every conversation's row comes first, then its parts in their order. The header names and
// types every column: PostgreSQL types a branch's NULLs by the branches before it, and SQLite
// takes a column's declared type (DATETIME, which its driver parses into a time) from the
// first SELECT only. Its WHERE 1 = 0 is constant: neither database reads a row for it.
//
// A row is as wide as all the parts, most of it NULL. On PostgreSQL the rows are read through
// pgx (database.ScanNative), which decodes only the columns of each row's own part; through
// database/sql (SQLite) every column is scanned, NULL ones into orZero. Read through
// database/sql on PostgreSQL too, the statement saved the round trips of the three it replaces
// and lost it again to the NULLs: BENCHMARKS.md has the figures.

// Kinds of rows of the inbox's statement, its part column.
const (
	inboxHeaderRow = iota
	inboxConversationRow
	inboxImageRow
	inboxParticipantRow
)

// inboxTable is one table's columns in the inbox's rows.
type inboxTable int

const (
	inboxConversation inboxTable = iota
	inboxProduct
	inboxMessage
	inboxImage
	inboxParticipation // the participant's conversation and when they joined it
	inboxUser
)

// inboxSegment is a table's columns in the inbox's rows, filled by the rows of one part.
type inboxSegment struct {
	table   inboxTable
	part    int
	columns []string // qualified
}

// inboxStatement is the statement of one InboxWith, built once (inboxStatements): its text
// after the page is conversations, then images and participants (when asked for) each followed
// by the literal k (see above), then order.
type inboxStatement struct {
	with                                       InboxWith
	segments                                   []inboxSegment
	conversations, images, participants, order string
}

var inboxStatements = map[InboxWith]*inboxStatement{}

func init() {
	for bits := range 16 {
		w := InboxWith{Product: bits&1 != 0, LastMessage: bits&2 != 0, Images: bits&4 != 0, Participants: bits&8 != 0}
		if w.Images && !w.Product || w == (InboxWith{}) {
			continue // Images implies Product; a page with no part is read alone
		}
		inboxStatements[w] = newInboxStatement(w)
	}
}

func newInboxStatement(w InboxWith) *inboxStatement {
	st := &inboxStatement{with: w}
	from := []string{"page"}
	add := func(table inboxTable, part int, columns []string, source string) {
		st.segments = append(st.segments, inboxSegment{table: table, part: part, columns: columns})
		if source != "" {
			from = append(from, source)
		}
	}
	add(inboxConversation, inboxConversationRow, qualified("page", conversationColumns), "")
	if w.Product {
		add(inboxProduct, inboxConversationRow, qualified("p", productColumns), "products AS p")
	}
	if w.LastMessage {
		add(inboxMessage, inboxConversationRow, aliasedMessageColumns, "messages AS m")
	}
	if w.Images {
		add(inboxImage, inboxImageRow, qualified("i", imageColumns), "product_images AS i")
	}
	if w.Participants {
		add(inboxParticipation, inboxParticipantRow, []string{"pp.conversation_id", "pp.joined_at"}, "conversation_participants AS pp")
		add(inboxUser, inboxParticipantRow, qualified("u", userColumns), "users AS u")
	}

	// The header: every column by name, from its table, those ORDER BY names aliased.
	orderNames := map[string]string{"i.sort_order": "i_sort_order", "i.id": "i_id", "pp.joined_at": "pp_joined_at", "u.id": "u_id"}
	header := []string{"page.n", strconv.Itoa(inboxHeaderRow) + " AS part"}
	for _, s := range st.segments {
		for _, c := range s.columns {
			if name, ok := orderNames[c]; ok {
				c += " AS " + name
			}
			header = append(header, c)
		}
	}
	st.conversations = " SELECT " + strings.Join(header, ", ") + " FROM " + strings.Join(from, ", ") + " WHERE 1 = 0" +
		" UNION ALL SELECT " + st.selectList(inboxConversationRow) + " FROM page"
	st.order = " ORDER BY n, part"
	// Each branch reads the page first: CROSS JOIN says so to SQLite, which would otherwise
	// scan a small table and probe the page; PostgreSQL reorders it as any inner join.
	if w.Product {
		st.conversations += " CROSS JOIN products AS p"
	}
	if w.LastMessage {
		st.conversations += " LEFT JOIN messages AS m ON m.id = (" + newestMessage("page.id") + ") AND page.viewer_takes_part"
	}
	if w.Product {
		// The seller's own product (the foreign key (product_id, seller_id) says so).
		st.conversations += " WHERE p.id = page.product_id"
	}
	if w.Images {
		st.images = " UNION ALL SELECT " + st.selectList(inboxImageRow) +
			" FROM page CROSS JOIN product_images AS i WHERE i.product_id = page.product_id AND page.n < "
		st.order += ", i_sort_order, i_id"
	}
	if w.Participants {
		st.participants = " UNION ALL SELECT " + st.selectList(inboxParticipantRow) +
			" FROM page CROSS JOIN conversation_participants AS pp CROSS JOIN users AS u" +
			" WHERE pp.conversation_id = page.id AND u.id = pp.user_id AND page.viewer_takes_part AND page.n < "
		st.order += ", pp_joined_at, u_id"
	}
	return st
}

// selectList is a branch's columns: those of part's segments, NULL for the others.
func (st *inboxStatement) selectList(part int) string {
	items := []string{"page.n", strconv.Itoa(part)}
	for _, s := range st.segments {
		for _, c := range s.columns {
			if s.part != part {
				c = "NULL"
			}
			items = append(items, c)
		}
	}
	return strings.Join(items, ", ")
}

// query is the statement for a page of limit conversations of inbox (the viewer's, filtered,
// after the cursor) in order, for viewerID.
func (st *inboxStatement) query(db *gorm.DB, inbox *gorm.DB, order string, limit int, viewerID int64) *gorm.DB {
	var page *gorm.DB
	if st.with.LastMessage || st.with.Participants {
		// Messages and participants of conversations the viewer takes part in (the rule of
		// LastMessagesByConversationID and ParticipantsByConversationID), probed once a page row.
		page = inbox.Select(pageColumns(order)+", "+takesPartAs, takesPart("conversations.id", viewerID))
	} else {
		page = inbox.Select(pageColumns(order))
	}
	// Parts of the page's rows only, not of the one past it that says whether there are more.
	k := strconv.Itoa(limit + 1)
	text := "WITH page AS (" + withLimit("?", limit+1) + ")" + st.conversations
	if st.with.Images {
		text += st.images + k
	}
	if st.with.Participants {
		text += st.participants + k
	}
	return db.Raw(text+st.order, page.Order(order))
}

// takesPartAs names the page's column that says whether the viewer takes part in its row.
const takesPartAs = "? AS viewer_takes_part"

// pageColumns are what the page's common table expression selects, its order given.
func pageColumns(order string) string {
	return strings.Join(qualified("conversations", conversationColumns), ", ") + ", row_number() OVER (ORDER BY " + order + ") AS n"
}

// scan runs q, built by query, and returns the page's conversations (limit+1 at most) with
// their parts.
func (st *inboxStatement) scan(q *gorm.DB) ([]*Conversation, error) {
	// Every row is scanned into the same scratch values, then copied out by its part.
	var sc inboxScratch
	var out []*Conversation
	var last *Conversation
	row := func() error {
		switch sc.part {
		case inboxConversationRow:
			c := new(Conversation)
			*c = sc.conversation
			if st.with.Product {
				c.Product = new(Product)
				*c.Product = sc.product
				if st.with.Images {
					c.Product.Images = []*ProductImage{}
				}
			}
			if st.with.LastMessage {
				c.LastMessage = sc.message.message()
			}
			if st.with.Participants {
				c.Participants = []*User{}
			}
			out, last = append(out, c), c
		case inboxImageRow:
			if last == nil || sc.image.ProductID != last.ProductID {
				return fmt.Errorf("image %d comes after no conversation of product %d", sc.image.ID, sc.image.ProductID)
			}
			i := new(ProductImage)
			*i = sc.image
			last.Product.Images = append(last.Product.Images, i)
		case inboxParticipantRow:
			if last == nil || sc.participantOf != last.ID {
				return fmt.Errorf("participant %d comes after no conversation %d", sc.user.ID, sc.participantOf)
			}
			u := new(User)
			*u = sc.user
			last.Participants = append(last.Participants, u)
		default:
			return fmt.Errorf("inbox row of unknown part %d", sc.part)
		}
		return nil
	}

	// On PostgreSQL, pgx reads each row's part, then only that part's columns.
	native, err := database.ScanNative(q, func(rows pgx.Rows) error {
		head := make([]any, 2+st.width())
		head[0], head[1] = &sc.n, &sc.part
		byPart := map[int64][]any{}
		for _, part := range []int64{inboxConversationRow, inboxImageRow, inboxParticipantRow} {
			targets := []any{nil, nil}
			for _, s := range st.segments {
				if s.part == int(part) {
					targets = append(targets, sc.targets(s.table)...)
				} else {
					targets = append(targets, make([]any, len(s.columns))...)
				}
			}
			byPart[part] = targets
		}
		for rows.Next() {
			if err := rows.Scan(head...); err != nil {
				return err
			}
			targets, ok := byPart[sc.part]
			if !ok {
				return fmt.Errorf("inbox row of unknown part %d", sc.part)
			}
			if err := rows.Scan(targets...); err != nil {
				return err
			}
			if err := row(); err != nil {
				return err
			}
		}
		return nil
	})
	if native {
		return out, err
	}

	// Through database/sql, every column of every row, NULL or not.
	targets := []any{&sc.n, &sc.part}
	var unread any
	for _, s := range st.segments {
		t := sc.targets(s.table)
		switch s.table {
		case inboxMessage: // NULL also when there is none: nullable already
		case inboxParticipation:
			t = []any{&orZero[int64]{dest: &sc.participantOf}, &unread}
		default:
			t = zeroWhenNull(t)
		}
		targets = append(targets, t...)
	}
	err = eachRow(q, func(scan func(dest ...any) error) error {
		if err := scan(targets...); err != nil {
			return err
		}
		return row()
	})
	return out, err
}

// width is the number of columns of the statement's segments.
func (st *inboxStatement) width() int {
	n := 0
	for _, s := range st.segments {
		n += len(s.columns)
	}
	return n
}

// inboxScratch holds a row of the inbox's statement, whatever its part.
type inboxScratch struct {
	n, part       int64
	conversation  Conversation
	product       Product
	message       optionalMessage
	image         ProductImage
	participantOf int64
	user          User
}

// targets are the scan targets of a table's columns; nil for the participation's joined_at,
// which the statement orders by and nothing reads.
func (sc *inboxScratch) targets(t inboxTable) []any {
	switch t {
	case inboxConversation:
		return sc.conversation.targets()
	case inboxProduct:
		return sc.product.targets()
	case inboxMessage:
		return sc.message.targets()
	case inboxImage:
		return sc.image.targets()
	case inboxParticipation:
		return []any{&sc.participantOf, nil}
	default:
		return sc.user.targets()
	}
}

// orZero scans a column that may be NULL into a field that holds no NULL, its zero value then:
// in the inbox's rows, each table's columns are NULL in the rows of the other parts. The
// conversion of a value is database/sql's own (sql.Null's).
type orZero[T any] struct {
	dest *T
	v    sql.Null[T]
}

func (o *orZero[T]) Scan(src any) error {
	if err := o.v.Scan(src); err != nil {
		return err
	}
	*o.dest = o.v.V
	return nil
}

// zeroWhenNull wraps a model's targets (see targets()) in orZero.
func zeroWhenNull(targets []any) []any {
	out := make([]any, len(targets))
	for i, t := range targets {
		switch p := t.(type) {
		case *int64:
			out[i] = &orZero[int64]{dest: p}
		case *int:
			out[i] = &orZero[int]{dest: p}
		case *string:
			out[i] = &orZero[string]{dest: p}
		case *bool:
			out[i] = &orZero[bool]{dest: p}
		case *time.Time:
			out[i] = &orZero[time.Time]{dest: p}
		case **int64:
			out[i] = &orZero[*int64]{dest: p}
		case **int:
			out[i] = &orZero[*int]{dest: p}
		case **string:
			out[i] = &orZero[*string]{dest: p}
		case **time.Time:
			out[i] = &orZero[*time.Time]{dest: p}
		default:
			panic(fmt.Sprintf("models: zeroWhenNull has no target for %T", t))
		}
	}
	return out
}

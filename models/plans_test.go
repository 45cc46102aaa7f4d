package models_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/dbtest"
	"github.com/partizap/vendor-inbox/models/loaders"
	"github.com/partizap/vendor-inbox/models/seed"
)

// TestGenericPlansSuitEveryViewer: under generic plans (one plan for every argument, which the
// service's connections use for every prepared statement: database.GenericPlans), each
// statement of an inbox page (filtered or not), a thread and node(id) touches no more rows than
// the plan made for its arguments, and as many for a vendor with 3,000 conversations as for one
// with 30. A plan that read all of a viewer's conversations (a join or a hashed subplan over
// their participations) would touch a hundred times more for the busy one: that is the plan
// that once made pages 8× slower.
func TestGenericPlansSuitEveryViewer(t *testing.T) {
	t.Parallel()
	_, db := dbtest.NewOn(t, database.Postgres)
	ctx := context.Background()
	if _, err := seed.Seed(ctx, db, seed.Options{Vendors: 3, Conversations: 30, BusiestConversations: 3000, Messages: 3, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	type statement struct {
		sql  string
		vars []any
	}
	var recorded []statement
	if err := database.ObserveStatements(db, func(sql string, vars []any) {
		recorded = append(recorded, statement{sql, slices.Clone(vars)})
	}); err != nil {
		t.Fatal(err)
	}
	store := models.NewStore(db)
	byBuyer := -1 // the statement of the inbox filtered by buyer
	statementsOf := func(vendorID int64) []statement {
		t.Helper()
		recorded = nil
		first := 20
		l := loaders.New(store, vendorID)
		page, err := l.VendorInbox(ctx, models.PageArgs{First: &first}, loaders.AllConversationFields)
		if err != nil || len(page.Items) != first || page.Items[0].LastMessage == nil {
			t.Fatalf("vendor %d: page of %d, error %v", vendorID, len(page.Items), err)
		}
		if _, err := store.ConversationsByID(ctx, vendorID, []int64{page.Items[0].ID}); err != nil {
			t.Fatal(err)
		}
		// What node(id) and nodes(ids) read; the page's statement reads them with the page.
		if _, err := store.ProductsByID(ctx, vendorID, []int64{page.Items[0].ProductID, page.Items[1].ProductID}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.LastMessagesByConversationID(ctx, vendorID, []int64{page.Items[0].ID, page.Items[1].ID}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.MessagesByID(ctx, vendorID, []int64{page.Items[0].LastMessage.ID}); err != nil {
			t.Fatal(err)
		}
		// The filtered inbox and a thread: the pages other than the whole inbox's.
		var buyer int64
		for _, u := range page.Items[0].Participants {
			if u.ID != vendorID {
				buyer = u.ID
			}
		}
		for _, filter := range []models.InboxFilter{{UnreadOnly: true}, {ProductID: page.Items[0].ProductID}, {BuyerID: buyer}} {
			if filter.BuyerID != 0 {
				byBuyer = len(recorded)
			}
			if _, err := store.VendorConversations(ctx, vendorID, models.PageArgs{First: &first, Filter: filter}, models.InboxWith{Product: true, LastMessage: true}); err != nil {
				t.Fatal(err)
			}
		}
		thread := 30
		if _, err := store.ConversationMessages(ctx, vendorID, []int64{page.Items[0].ID}, models.PageArgs{First: &thread}); err != nil {
			t.Fatal(err)
		}
		// Counted for a buyer's view of a conversation; the seller's is on the page's rows.
		if _, err := store.UnreadCounts(ctx, vendorID, []int64{page.Items[0].ID, page.Items[1].ID}); err != nil {
			t.Fatal(err)
		}
		return recorded
	}
	busy, quiet := statementsOf(1), statementsOf(2)
	if len(busy) != len(quiet) || len(busy) < 8 {
		t.Fatalf("%d statements for the busy vendor, %d for the quiet one", len(busy), len(quiet))
	}
	rows := func(mode string, st statement) int64 {
		t.Helper()
		costs, err := database.ExplainPrepared(ctx, db, mode, st.sql, st.vars, 1)
		if err != nil {
			t.Fatalf("%s: %v", st.sql, err)
		}
		return costs[0].Rows
	}
	for i := range busy {
		b, q := rows(database.GenericPlans, busy[i]), rows(database.GenericPlans, quiet[i])
		// The generic plan does no more than the plan made for the arguments, for either vendor.
		for _, v := range []struct {
			name    string
			st      statement
			generic int64
		}{{"busy", busy[i], b}, {"quiet", quiet[i], q}} {
			if custom := rows(database.CustomPlans, v.st); v.generic > custom+custom/10+10 {
				t.Errorf("statement %d touches %d rows for the %s vendor under its generic plan, %d under a custom one:\n%s", i+1, v.generic, v.name, custom, v.st.sql)
			}
		}
		// The pages differ (other products, other unread messages): allow some slack, far
		// below the factor of 100 between the two inboxes. The buyer filter reads the inbox
		// until it has a page of that buyer's conversations, as far as they lie, under any plan.
		if b > 2*q+40 && i != byBuyer {
			t.Errorf("statement %d touches %d rows for the busy vendor and %d for the quiet one under its generic plan:\n%s", i+1, b, q, busy[i].sql)
		}
	}
}

// TestUnreadInboxReadsItsIndex: the badge and the unread inbox's page are ranges of
// conversations_unread_inbox_idx, whatever share of the inbox is unread.
func TestUnreadInboxReadsItsIndex(t *testing.T) {
	t.Parallel()
	_, db := dbtest.NewOn(t, database.Postgres)
	ctx := context.Background()
	if _, err := seed.Seed(ctx, db, seed.Options{Vendors: 3, Conversations: 30, BusiestConversations: 3000, Messages: 3, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	var recorded []string
	var vars [][]any
	if err := database.ObserveStatements(db, func(sql string, v []any) {
		recorded, vars = append(recorded, sql), append(vars, slices.Clone(v))
	}); err != nil {
		t.Fatal(err)
	}
	store := models.NewStore(db)
	first := 20
	if _, err := store.UnreadConversationsCount(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := store.VendorConversations(ctx, 1, models.PageArgs{First: &first, Filter: models.InboxFilter{UnreadOnly: true}}, models.InboxWith{}); err != nil {
		t.Fatal(err)
	}
	if len(recorded) != 2 {
		t.Fatalf("%d statements, want 2", len(recorded))
	}
	for i, sql := range recorded {
		var plan string
		if err := db.Raw("EXPLAIN (FORMAT JSON) "+sql, vars[i]...).Row().Scan(&plan); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, `"Index Name": "conversations_unread_inbox_idx"`) || strings.Contains(plan, `"Node Type": "Sort"`) || strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s\ndoes not read a range of conversations_unread_inbox_idx:\n%s", sql, plan)
		}
	}
}

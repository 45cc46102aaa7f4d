package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/partizap/vendor-inbox/bench/floor"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/database"
	"github.com/partizap/vendor-inbox/models/loaders"
)

// statementPlan is what one statement of the service costs under each of PostgreSQL's two kinds
// of plan for a prepared statement: a generic plan, made once and reused whatever the
// arguments, and a custom plan, made for each execution's arguments. plan_cache_mode=auto (the
// default) tries custom plans five times and then keeps the generic one unless it is estimated
// costlier; Auto is what it chose for the next executions.
type statementPlan struct {
	Name    string
	SQL     string
	Generic planCost
	Custom  planCost
	Auto    string // "generic" or "custom"
}

// planCost is the median of several EXPLAIN (ANALYZE, BUFFERS) runs of one statement.
type planCost struct {
	PlanningMS, ExecutionMS float64
	Buffers                 int64 // shared buffers hit or read by the execution
	Rows                    int64 // rows the plan's nodes produced or filtered out (database.PlanCost)
}

// planRuns is how many EXPLAIN runs each cost is the median of, after one unmeasured run.
const planRuns = 5

// measurePlans runs the statements of one REST page of 20 of the session's inbox through the
// service's own Store and loaders, as a request does, plus those of node(id) of its newest
// conversation and last message, and measures each statement under both kinds of plan.
func measurePlans(ctx context.Context, databaseURL, session string) ([]statementPlan, error) {
	db, err := database.Open(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	defer func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	}()
	type recorded struct {
		sql  string
		vars []any
	}
	var statements []recorded
	if err := database.ObserveStatements(db, func(sql string, vars []any) {
		statements = append(statements, recorded{sql, slices.Clone(vars)})
	}); err != nil {
		return nil, err
	}
	store := models.NewStore(db)
	viewer, err := store.UserBySession(ctx, session)
	if err != nil {
		return nil, fmt.Errorf("the bench session: %w", err)
	}
	first := 20
	l := loaders.New(store, viewer.ID)
	page, err := l.VendorInbox(ctx, models.PageArgs{First: &first}, loaders.AllConversationFields)
	if err != nil {
		return nil, err
	}
	if len(page.Items) == 0 || page.Items[0].LastMessage == nil {
		return nil, fmt.Errorf("the bench vendor's newest conversation has no message")
	}
	// node(id) of a conversation and of a message: the two other statements of private data.
	if _, err := store.ConversationsByID(ctx, viewer.ID, []int64{page.Items[0].ID}); err != nil {
		return nil, err
	}
	if _, err := store.MessagesByID(ctx, viewer.ID, []int64{page.Items[0].LastMessage.ID}); err != nil {
		return nil, err
	}
	// What node(id) and nodes(ids) read of a conversation; a page reads them with its rows.
	if _, err := store.ProductsByID(ctx, viewer.ID, []int64{page.Items[0].ProductID}); err != nil {
		return nil, err
	}
	if _, err := store.LastMessagesByConversationID(ctx, viewer.ID, []int64{page.Items[0].ID}); err != nil {
		return nil, err
	}
	// Unread counts are counted for a buyer's view; a seller's page reads them on its rows.
	ids := make([]int64, len(page.Items))
	for i, c := range page.Items {
		ids[i] = c.ID
	}
	if _, err := store.UnreadCounts(ctx, viewer.ID, ids); err != nil {
		return nil, err
	}

	// The floor's one statement in each form, to see what its plans cost beside the service's.
	for _, form := range []floor.Form{floor.JSON, floor.Rows} {
		sql, args := floor.New(nil, nil, form).FirstPage(session, first)
		statements = append(statements, recorded{sql, args})
	}

	plans := make([]statementPlan, 0, len(statements))
	for i, st := range statements {
		p := statementPlan{Name: statementName(st.sql, i), SQL: st.sql}
		var err error
		if p.Generic, err = planCosts(ctx, db, database.GenericPlans, st.sql, st.vars); err != nil {
			return nil, fmt.Errorf("%s, generic plan: %w", p.Name, err)
		}
		if p.Custom, err = planCosts(ctx, db, database.CustomPlans, st.sql, st.vars); err != nil {
			return nil, fmt.Errorf("%s, custom plan: %w", p.Name, err)
		}
		if p.Auto, err = database.AutoPlanChoice(ctx, db, st.sql, st.vars); err != nil {
			return nil, fmt.Errorf("%s, plan_cache_mode=auto: %w", p.Name, err)
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// statementNames name the service's statements by what only each one's SQL contains.
var statementNames = []struct{ contains, name string }{
	{`WITH page AS (`, inboxStatement},
	{`UNION ALL`, floorRowsStatement},
	{`WITH viewer AS`, floorStatement},
	{`FROM sessions`, "session"},
	{`conversation_participants AS p`, "participants"},
	{`FROM "products"`, "products"},
	{`ORDER BY l.created_at DESC`, "last messages"},
	{`FROM "product_images"`, "images"},
	{`count(*)`, "unread counts"},
	{`FROM "users"`, "users"},
	{`FROM "conversations"`, "node: conversations"},
	{`FROM messages AS m`, "node: messages"},
}

const (
	floorStatement     = "the floor"
	floorRowsStatement = "the floor, rows form"
	inboxStatement     = "inbox page, with products, images, last messages and participants"
)

func statementName(sql string, i int) string {
	for _, n := range statementNames {
		if strings.Contains(sql, n.contains) {
			return n.name
		}
	}
	return "statement " + strconv.Itoa(i+1)
}

// planCosts is the median cost of planRuns executions under mode, after one unmeasured.
func planCosts(ctx context.Context, db *gorm.DB, mode, sql string, vars []any) (planCost, error) {
	costs, err := database.ExplainPrepared(ctx, db, mode, sql, vars, planRuns+1)
	if err != nil {
		return planCost{}, err
	}
	var planning, execution []float64
	for _, c := range costs[1:] {
		planning, execution = append(planning, c.PlanningMS), append(execution, c.ExecutionMS)
	}
	last := costs[len(costs)-1]
	return planCost{PlanningMS: median(planning), ExecutionMS: median(execution), Buffers: last.Buffers, Rows: last.Rows}, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// renderPlans writes the plans section of the report.
func renderPlans(w io.Writer, plans []statementPlan) {
	if len(plans) == 0 {
		return
	}
	fmt.Fprintf(w, "## The service's statements and their plans\n\n")
	fmt.Fprintf(w, "Each statement of one REST page of 20 of the busiest vendor's inbox, in the order a request\n")
	fmt.Fprintf(w, "runs them, of node(id) of its newest conversation and message, and the unread count of a buyer's\n")
	fmt.Fprintf(w, "view of the page (a seller's page reads it on its rows), run through the service's\n")
	fmt.Fprintf(w, "own Store, then prepared and measured by `EXPLAIN (ANALYZE, BUFFERS)` under each kind of plan\n")
	fmt.Fprintf(w, "(median of %d runs, after one): a generic plan is made once per connection and reused; a custom\n", planRuns)
	fmt.Fprintf(w, "plan is made for each execution's arguments, and its planning is paid every time. The service\n")
	fmt.Fprintf(w, "uses generic plans (`plan_cache_mode=force_generic_plan` on its connections); \"auto\" is what\n")
	fmt.Fprintf(w, "PostgreSQL's default `plan_cache_mode` would choose after its five trial executions, for\n")
	fmt.Fprintf(w, "comparison. \"rows\" counts the rows every plan node produced or filtered out, over all\n")
	fmt.Fprintf(w, "its loops: a generic plan that touches the same buffers and rows as the custom one does not\n")
	fmt.Fprintf(w, "depend on the arguments.\n\n")
	fmt.Fprintf(w, "| statement | generic: planning ms | execution ms | buffers | rows | custom: planning ms | execution ms | buffers | rows | auto |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	var generic, custom float64
	for _, p := range plans {
		fmt.Fprintf(w, "| %s | %.3f | %.3f | %d | %d | %.3f | %.3f | %d | %d | %s |\n", p.Name,
			p.Generic.PlanningMS, p.Generic.ExecutionMS, p.Generic.Buffers, p.Generic.Rows,
			p.Custom.PlanningMS, p.Custom.ExecutionMS, p.Custom.Buffers, p.Custom.Rows, p.Auto)
		if p.Name != floorStatement && p.Name != floorRowsStatement {
			generic += p.Generic.PlanningMS + p.Generic.ExecutionMS
			custom += p.Custom.PlanningMS + p.Custom.ExecutionMS
		}
	}
	fmt.Fprintf(w, "\nThe service's statements in all, planning and execution: %.2f ms with generic plans, %.2f ms with\n", generic, custom)
	fmt.Fprintf(w, "custom plans. The floor's one statement (in each form) is measured the same way, and its pool uses generic plans too.\n\n")
	fmt.Fprintf(w, "<details><summary>The statements</summary>\n\n")
	for _, p := range plans {
		fmt.Fprintf(w, "- %s: `%s`\n", p.Name, p.SQL)
	}
	fmt.Fprintf(w, "\n</details>\n\n")
}

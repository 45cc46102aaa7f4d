package database

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// The values of PostgreSQL's plan_cache_mode. PostgreSQL's default, Auto, plans the first five
// executions of a prepared statement for their arguments (custom plans), then keeps one plan
// for all arguments (a generic plan) unless that is estimated costlier. The service's
// connections use GenericPlans instead: each of its statements is written so that one plan
// suits every viewer (see models.Store; TestGenericPlansSuitEveryViewer holds every statement of
// a page, a thread and node(id) to it), so planning each execution would be work for nothing,
// and Auto's estimate took the inbox page's plan, the same plan, for costlier for the busiest
// vendor (whose rows lie together) and planned it every time. The benchmark measures every
// statement under both kinds.
const (
	AutoPlans    = "auto"
	GenericPlans = "force_generic_plan"
	CustomPlans  = "force_custom_plan"
)

// PlanCost is what one execution of a prepared statement cost, from EXPLAIN (ANALYZE,
// BUFFERS): its planning and execution time, the shared buffers it hit or read, and the rows
// its plan nodes produced or filtered out, over all their loops: the work that grows when a
// plan reads more than the answer needs.
type PlanCost struct {
	PlanningMS, ExecutionMS float64
	Buffers                 int64
	Rows                    int64
}

// ExplainPrepared prepares sql, a statement as GORM sent it ($n parameters), under mode (one
// of the plan_cache_mode constants) on one connection of db, and returns the cost of each of
// runs EXPLAIN ANALYZE executions of it with vars. PostgreSQL only.
func ExplainPrepared(ctx context.Context, db *gorm.DB, mode, sql string, vars []any, runs int) ([]PlanCost, error) {
	args, err := sqlLiterals(vars)
	if err != nil {
		return nil, err
	}
	var costs []PlanCost
	err = withPrepared(ctx, db, mode, sql, func(conn *gorm.DB) error {
		for range runs {
			var out string
			if err := conn.Raw("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE partizap_plan" + args).Scan(&out).Error; err != nil {
				return err
			}
			c, err := parseExplain([]byte(out))
			if err != nil {
				return err
			}
			costs = append(costs, c)
		}
		return nil
	})
	return costs, err
}

// AutoPlanChoice returns which kind of plan plan_cache_mode=auto uses for sql with vars once
// its five trial executions are over: "generic" or "custom". PostgreSQL only.
func AutoPlanChoice(ctx context.Context, db *gorm.DB, sql string, vars []any) (string, error) {
	args, err := sqlLiterals(vars)
	if err != nil {
		return "", err
	}
	var choice string
	err = withPrepared(ctx, db, AutoPlans, sql, func(conn *gorm.DB) error {
		const trials, counted = 5, 5
		var before, after struct{ GenericPlans, CustomPlans int64 }
		count := "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'partizap_plan'"
		for i := range trials + counted {
			if i == trials {
				if err := conn.Raw(count).Scan(&before).Error; err != nil {
					return err
				}
			}
			if err := conn.Exec("EXECUTE partizap_plan" + args).Error; err != nil {
				return err
			}
		}
		if err := conn.Raw(count).Scan(&after).Error; err != nil {
			return err
		}
		switch generic, custom := after.GenericPlans-before.GenericPlans, after.CustomPlans-before.CustomPlans; {
		case generic == counted:
			choice = "generic"
		case custom == counted:
			choice = "custom"
		default:
			choice = fmt.Sprintf("%d generic, %d custom", generic, custom)
		}
		return nil
	})
	return choice, err
}

// withPrepared runs f on one connection of db on which sql is prepared as partizap_plan under
// mode, and deallocates it after.
func withPrepared(ctx context.Context, db *gorm.DB, mode, sql string, f func(conn *gorm.DB) error) error {
	switch mode {
	case AutoPlans, GenericPlans, CustomPlans:
	default:
		return fmt.Errorf("unknown plan_cache_mode %q", mode)
	}
	return db.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		// SET and PREPARE take no parameters: GORM would render arguments into them.
		if err := conn.Exec("SET plan_cache_mode = " + mode).Error; err != nil {
			return err
		}
		defer conn.Exec("RESET plan_cache_mode")
		if err := conn.Exec("PREPARE partizap_plan AS " + sql).Error; err != nil {
			return err
		}
		defer conn.Exec("DEALLOCATE partizap_plan")
		return f(conn)
	})
}

// sqlLiterals renders a statement's arguments as the argument list of EXECUTE, which takes
// no parameters of its own: PostgreSQL infers each literal's type from the prepared statement.
func sqlLiterals(vars []any) (string, error) {
	if len(vars) == 0 {
		return "", nil
	}
	out := make([]string, len(vars))
	for i, v := range vars {
		switch v := v.(type) {
		case int:
			out[i] = strconv.Itoa(v)
		case int64:
			out[i] = strconv.FormatInt(v, 10)
		case bool:
			out[i] = strconv.FormatBool(v)
		case string:
			out[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		case []byte:
			out[i] = `'\x` + hex.EncodeToString(v) + `'`
		case time.Time:
			out[i] = "'" + v.UTC().Format(time.RFC3339Nano) + "'"
		default:
			return "", fmt.Errorf("argument %d: no SQL literal for %T", i+1, v)
		}
	}
	return "(" + strings.Join(out, ", ") + ")", nil
}

// explainNode is a node of EXPLAIN's JSON plan, with the fields PlanCost adds up.
type explainNode struct {
	Hit      int64         `json:"Shared Hit Blocks"`
	Read     int64         `json:"Shared Read Blocks"`
	Rows     float64       `json:"Actual Rows"`
	Loops    float64       `json:"Actual Loops"`
	Filtered float64       `json:"Rows Removed by Filter"`
	Rechecks float64       `json:"Rows Removed by Index Recheck"`
	Plans    []explainNode `json:"Plans"`
}

func (n explainNode) rows() float64 {
	total := (n.Rows + n.Filtered + n.Rechecks) * n.Loops
	for _, child := range n.Plans {
		total += child.rows()
	}
	return total
}

func parseExplain(out []byte) (PlanCost, error) {
	var explained []struct {
		Plan      explainNode `json:"Plan"`
		Planning  float64     `json:"Planning Time"`
		Execution float64     `json:"Execution Time"`
	}
	if err := json.Unmarshal(out, &explained); err != nil {
		return PlanCost{}, fmt.Errorf("EXPLAIN output: %w", err)
	}
	if len(explained) != 1 {
		return PlanCost{}, errors.New("EXPLAIN output: want one plan")
	}
	e := explained[0]
	return PlanCost{
		PlanningMS:  e.Planning,
		ExecutionMS: e.Execution,
		Buffers:     e.Plan.Hit + e.Plan.Read,
		Rows:        int64(e.Plan.rows()),
	}, nil
}

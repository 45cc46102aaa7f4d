package main

// renderSeed writes the report's Seed section, when the run compared the seed with the
// SQL-only load.
func (r *report) renderSeed(p func(string, ...any)) {
	c := r.Seed
	if c == nil {
		return
	}
	p("## Seed")
	p("")
	p("`-seed-compare`: the seed (`vendor-inbox seed`, with the options above) into a scratch database, then")
	p("the SQL-only load into another: as many rows into the same tables, made by PostgreSQL itself with")
	p("`INSERT … SELECT` over `generate_series`, indexes and constraints built after the rows, then")
	p("`VACUUM (ANALYZE)` (`bench/sqlload.go`). Each time runs from the freshly created database to")
	p("statistics collected, migrations included.")
	p("")
	p("| load | rows | seconds | rows/s | database MiB |")
	p("|---|---:|---:|---:|---:|")
	p("| seed | %d | %.1f | %.0f | %.0f |", c.Seed.Rows, c.Seed.Seconds, c.Seed.RowsPerSecond(), c.Seed.MiB())
	p("| SQL-only | %d | %.1f | %.0f | %.0f |", c.SQL.Rows, c.SQL.Seconds, c.SQL.RowsPerSecond(), c.SQL.MiB())
	p("")
	p("- **%s** the seed's rows/s ≥ %.1f× the SQL-only load's: %.2f×", verdict(c.Ratio() >= seedGoal), seedGoal, c.Ratio())
	p("")
	p("The seed's summary:")
	p("")
	p("```json")
	p("%s", c.SeedLine)
	p("```")
	p("")
}

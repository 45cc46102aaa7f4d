package database

// ProbeQueries is how many queries p has sent to the database.
func ProbeQueries(p *Probe) int64 { return p.queries.Load() }

package models

// ProbeQueries is how many queries p has sent to the database.
func ProbeQueries(p *Probe) int64 { return p.queries.Load() }

// DBError is dbError, which maps a failed statement's error to the domain's codes.
func DBError(op string, err error) error { return dbError(op, err) }

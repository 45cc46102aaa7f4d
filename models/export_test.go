package models

// DBError is dbError, which maps a failed statement's error to the domain's codes.
func DBError(op string, err error) error { return dbError(op, err) }

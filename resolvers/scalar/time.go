// Package scalar holds the GraphQL custom scalars. It is its own package because the generated
// code in graph/ imports it, and resolvers/ imports graph/.
package scalar

import (
	"fmt"
	"io"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/partizap/vendor-inbox/models"
)

// MarshalTime writes t as models.FormatTime does, so GraphQL and REST agree to the character.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		var buf [48]byte // a quoted RFC 3339 time with nanoseconds fits
		b := append(models.AppendTime(append(buf[:0], '"'), t), '"')
		_, _ = w.Write(b)
	})
}

// UnmarshalTime reads an RFC 3339 timestamp.
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("time must be an RFC 3339 string")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time must be an RFC 3339 string")
	}
	return t.UTC(), nil
}

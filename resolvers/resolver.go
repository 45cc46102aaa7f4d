// Package resolvers implements the GraphQL schema (schema.graphqls) over models: it translates
// arguments and shapes, and reads every nested field through the request's loaders.
package resolvers

import (
	"github.com/partizap/vendor-inbox/graph"
	"github.com/partizap/vendor-inbox/models"
)

// Resolver is the root of the resolvers; its fields are shared by all requests.
type Resolver struct {
	Store       *models.Store
	Cursors     *models.Cursors
	SendLimiter *SendLimiter
}

// NewConfig returns the executable schema's configuration for store and cursors, sending at
// most sendsPerMinute messages a minute per sender (0: no limit).
func NewConfig(store *models.Store, cursors *models.Cursors, sendsPerMinute int) graph.Config {
	cfg := graph.Config{Resolvers: &Resolver{Store: store, Cursors: cursors, SendLimiter: NewSendLimiter(sendsPerMinute)}}
	setComplexity(&cfg.Complexity)
	return cfg
}

func (r *Resolver) Query() graph.QueryResolver       { return queryResolver{r} }
func (r *Resolver) Mutation() graph.MutationResolver { return mutationResolver{r} }
func (r *Resolver) Conversation() graph.ConversationResolver {
	return conversationResolver{r}
}
func (r *Resolver) MessageConnection() graph.MessageConnectionResolver {
	return messageConnectionResolver{r}
}
func (r *Resolver) User() graph.UserResolver { return userResolver{r} }
func (r *Resolver) ConversationConnection() graph.ConversationConnectionResolver {
	return connectionResolver{r}
}

// Nested objects (a conversation's product, a product's images, …) have no resolvers: the
// loaders' prefetch sets them on the models for the fields the operation selects, and gqlgen
// reads them as fields, without a goroutine and a loader lookup per object.
type (
	queryResolver      struct{ *Resolver }
	connectionResolver struct{ *Resolver }
)

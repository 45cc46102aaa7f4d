// Package resolvers implements the GraphQL schema (schema.graphqls) over models: it translates
// arguments and shapes, and reads every nested field through the request's loaders.
package resolvers

import (
	"github.com/partizap/vendor-inbox/graph"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/live"
)

// Resolver is the root of the resolvers; its fields are shared by all requests.
type Resolver struct {
	Store       *models.Store
	Cursors     *models.Cursors
	SendLimiter *SendLimiter
	// Live fans committed changes out to subscriptions; nil when live updates are off.
	Live *live.Hub

	views views
}

// Options are what the resolvers need.
type Options struct {
	Store          *models.Store
	Cursors        *models.Cursors
	SendsPerMinute int // messages a minute per sender (0: no limit)
	Live           *live.Hub
}

// NewConfig returns the executable schema's configuration.
func NewConfig(o Options) graph.Config {
	cfg := graph.Config{Resolvers: &Resolver{
		Store: o.Store, Cursors: o.Cursors, SendLimiter: NewSendLimiter(o.SendsPerMinute),
		Live: o.Live,
	}}
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
func (r *Resolver) Subscription() graph.SubscriptionResolver {
	return subscriptionResolver{r}
}
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

// Package resolvers implements the GraphQL schema (schema.graphqls) over models: it translates
// arguments and shapes, and reads every nested field through the request's loaders.
package resolvers

import (
	"context"
	"fmt"

	"github.com/partizap/vendor-inbox/graph"
	"github.com/partizap/vendor-inbox/models"
	"github.com/partizap/vendor-inbox/models/loaders"
)

// Resolver is the root of the resolvers; its fields are shared by all requests.
type Resolver struct {
	Store   *models.Store
	Cursors *models.Cursors
}

// NewConfig returns the executable schema's configuration for store and cursors.
func NewConfig(store *models.Store, cursors *models.Cursors) graph.Config {
	cfg := graph.Config{Resolvers: &Resolver{Store: store, Cursors: cursors}}
	setComplexity(&cfg.Complexity)
	return cfg
}

func (r *Resolver) Query() graph.QueryResolver               { return queryResolver{r} }
func (r *Resolver) Conversation() graph.ConversationResolver { return conversationResolver{r} }
func (r *Resolver) ConversationConnection() graph.ConversationConnectionResolver {
	return connectionResolver{r}
}
func (r *Resolver) Message() graph.MessageResolver { return messageResolver{r} }
func (r *Resolver) Product() graph.ProductResolver { return productResolver{r} }

type (
	queryResolver        struct{ *Resolver }
	conversationResolver struct{ *Resolver }
	connectionResolver   struct{ *Resolver }
	messageResolver      struct{ *Resolver }
	productResolver      struct{ *Resolver }
)

func (conversationResolver) Product(ctx context.Context, c *models.Conversation) (*models.Product, error) {
	p, err := loaders.For(ctx).ProductByID.Get(ctx, c.ProductID)
	return required(p, err, "product", c.ProductID)
}

func (conversationResolver) Participants(ctx context.Context, c *models.Conversation) ([]*models.User, error) {
	return loaders.For(ctx).ParticipantsByConversationID.Get(ctx, c.ID)
}

func (conversationResolver) LastMessage(ctx context.Context, c *models.Conversation) (*models.Message, error) {
	return loaders.For(ctx).LastMessageByConversationID.Get(ctx, c.ID)
}

func (conversationResolver) UnreadCount(ctx context.Context, c *models.Conversation) (int, error) {
	return loaders.For(ctx).UnreadCountByConversationID.Get(ctx, c.ID)
}

func (productResolver) Images(ctx context.Context, p *models.Product) ([]*models.ProductImage, error) {
	return loaders.For(ctx).ImagesByProductID.Get(ctx, p.ID)
}

func (productResolver) Seller(ctx context.Context, p *models.Product) (*models.User, error) {
	u, err := loaders.For(ctx).UserByID.Get(ctx, p.SellerID)
	return required(u, err, "user", p.SellerID)
}

func (messageResolver) Sender(ctx context.Context, m *models.Message) (*models.User, error) {
	u, err := loaders.For(ctx).UserByID.Get(ctx, m.SenderID)
	return required(u, err, "user", m.SenderID)
}

// required fails when a row that a foreign key guarantees is missing: that is a broken
// invariant, reported as an internal error rather than a silent null.
func required[T any](v *T, err error, what string, id int64) (*T, error) {
	if err == nil && v == nil {
		err = fmt.Errorf("%s %d is missing", what, id)
	}
	return v, err
}

// Package rest serves the documented REST endpoint, GET /vendor/conversations, as a thin
// translation of shapes over the same queries and loaders as the GraphQL resolvers.
package rest

package models

import "context"

type viewerKey struct{}

type viewer struct {
	user *User
	err  error
}

// WithViewer returns ctx carrying the outcome of resolving a request's session: the signed-in
// user (nil when anonymous), or the error that prevented knowing who it is.
func WithViewer(ctx context.Context, u *User, err error) context.Context {
	return context.WithValue(ctx, viewerKey{}, viewer{user: u, err: err})
}

// Viewer returns the signed-in user of ctx: nil and no error for an anonymous request, or the
// error that prevented resolving the session (a database failure, never "not signed in").
func Viewer(ctx context.Context) (*User, error) {
	v, _ := ctx.Value(viewerKey{}).(viewer)
	return v.user, v.err
}

// RequireViewer is Viewer for private data: an anonymous request gets ErrUnauthenticated.
func RequireViewer(ctx context.Context) (*User, error) {
	u, err := Viewer(ctx)
	if err == nil && u == nil {
		err = ErrUnauthenticated
	}
	return u, err
}

// ViewerID returns the id of the signed-in user of ctx, or 0 when there is none.
func ViewerID(ctx context.Context) int64 {
	if u, _ := Viewer(ctx); u != nil {
		return u.ID
	}
	return 0
}

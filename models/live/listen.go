package live

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"

	"github.com/partizap/vendor-inbox/models"
)

// ListenerApplicationName names the listening connection in pg_stat_activity.
const ListenerApplicationName = "vendor-inbox live updates"

// ReconnectDelay is how long Listen waits before connecting again after losing its connection.
const ReconnectDelay = time.Second

// Listen feeds hub with the changes every instance's Notifier announces on
// models.ChangesChannel, in the order they were announced, over one connection of its own (not
// one per subscriber, and none of the pool's), until ctx ends. hub is a NewListenedHub: it
// refuses subscriptions until the connection listens; when the connection is lost, every
// subscription ends with ErrResync (whatever was announced meanwhile is missed) and Listen
// connects again after ReconnectDelay.
func Listen(ctx context.Context, databaseURL string, hub *Hub, logger *slog.Logger) error {
	cfg, err := connConfig(databaseURL, ListenerApplicationName)
	if err != nil {
		return err
	}
	listener := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, cfg) },
		// Our handler reports no errors, so every error here is the connection's: lost, or
		// not made.
		LogError: func(ctx context.Context, err error) {
			hub.Interrupt()
			if ctx.Err() == nil {
				logger.WarnContext(ctx, "live updates interrupted: subscribers were told to resync; reconnecting", "err", err, "retry_in", ReconnectDelay)
			}
		},
		ReconnectDelay: ReconnectDelay,
	}
	listener.Handle(models.ChangesChannel, changeHandler{hub, logger})
	err = listener.Listen(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// connConfig is the configuration of a connection of live updates' own, named in
// pg_stat_activity: one that dies silently (a host or a network gone) is found by TCP
// keepalives within about half a minute.
func connConfig(databaseURL, applicationName string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	dialer := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 5 * time.Second, Count: 3}}
	cfg.DialFunc = dialer.DialContext
	cfg.RuntimeParams["application_name"] = applicationName
	return cfg, nil
}

type changeHandler struct {
	hub    *Hub
	logger *slog.Logger
}

// HandleBacklog runs once the connection listens (pgxlisten calls it after LISTEN): from now on
// no announcement is missed, so subscriptions are accepted again. There is no backlog to read:
// subscribers of the interrupted connection were told to reload.
func (h changeHandler) HandleBacklog(ctx context.Context, _ string, _ *pgx.Conn) error {
	h.hub.Resume()
	h.logger.InfoContext(ctx, "live updates: listening for changes", "channel", models.ChangesChannel)
	return nil
}

func (h changeHandler) HandleNotification(ctx context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	changes, err := models.ParseChanges(n.Payload)
	if err != nil {
		h.logger.WarnContext(ctx, "live updates: ignored a notification", "err", err)
		return nil
	}
	for _, c := range changes {
		h.hub.Publish(c)
	}
	return nil
}

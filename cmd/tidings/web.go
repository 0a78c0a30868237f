package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/spf13/cobra"

	"github.com/tidings/tidings/internal/reload"
	"github.com/tidings/tidings/internal/signing"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/web"
)

func (a *app) webCommand() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "web",
		Short: "Serve the dashboard, asynqmon, unsubscribe links, Twilio webhooks and metrics",
		Long: `Web serves, on --listen:

  /                          the campaign dashboard (login: admin or viewer)
  /queues/                   asynqmon, read-only for the viewer
  /u/TOKEN                   unsubscribe links (public)
  /webhooks/twilio/inbound   SMS replies: STOP, 退订, TD… opt out; START opts in (signed by Twilio)
  /webhooks/twilio/status    delivery receipts (signed by Twilio)
  /metrics /healthz /readyz  for Prometheus and probes (no login)

Environment:
  TIDINGS_ADMIN_PASSWORD      password of the user "admin" (full access)
  TIDINGS_VIEWER_PASSWORD     password of the user "viewer" (read-only)
                              at least one, each at least 12 characters
  TIDINGS_SECRET              the workers' secret: it signs unsubscribe links
                              and, here, session cookies (required)
  TIDINGS_TWILIO_AUTH_TOKEN   verifies Twilio's webhooks (without it they answer 503)
  TIDINGS_DATABASE_URL, TIDINGS_REDIS_URL as for the worker.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.web(cmd.Context(), listen)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", ":8080", "address to listen on")
	return cmd
}

func (a *app) web(ctx context.Context, listen string) error {
	users, err := web.UsersFromEnv(a.getenv)
	if err != nil {
		return err
	}
	secret := a.getenv("TIDINGS_SECRET")
	if secret == "" {
		return errors.New("TIDINGS_SECRET is not set: the web server verifies unsubscribe links and signs sessions with it; set the workers' secret")
	}
	// The dashboard follows configs/ and templates/ as workers do.
	live, err := a.liveConfig(nil)
	if err != nil {
		return err
	}
	opt, err := a.redisOpt()
	if err != nil {
		return err
	}
	db, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	defer a.watchConfig(ctx, live)()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", listen, err)
	}
	ws, err := a.startWeb(ctx, ln, live, opt, db, users, secret)
	if err != nil {
		return err
	}
	select {
	case err := <-ws.served:
		return err
	case <-ctx.Done():
	}
	a.log.Info("web server stopping")
	return ws.stop()
}

// webServer is a running dashboard.
type webServer struct {
	addr   string // the address it listens on, port resolved
	served chan error
	stop   func() error
}

// startWeb serves the dashboard and public endpoints on ln until stop.
// It takes the listener, not an address, so that the demo knows its port
// before the configuration loads; it closes ln when it fails.
func (a *app) startWeb(ctx context.Context, ln net.Listener, live *reload.Holder, opt asynq.RedisConnOpt, db *store.DB,
	users []web.User, secret string) (*webServer, error) {
	token := a.getenv("TIDINGS_TWILIO_AUTH_TOKEN")
	if token == "" {
		a.log.Warn("TIDINGS_TWILIO_AUTH_TOKEN is not set: the Twilio webhooks answer 503")
	}
	srv, err := web.New(web.Options{
		Store:           db,
		Config:          live.Config,
		Templates:       live.Templates,
		Redis:           opt,
		Signer:          signing.New(secret),
		Users:           users,
		SessionKey:      web.SessionKey(secret),
		TwilioAuthToken: token,
		Log:             a.log,
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ws := &webServer{addr: ln.Addr().String(), served: make(chan error, 1)}
	go func() { ws.served <- hs.Serve(ln) }()
	names := make([]string, len(users))
	for i, u := range users {
		names[i] = u.String()
	}
	a.log.Info("web server started", "listen", ws.addr, "users", names, "database", db.Redacted())
	ws.stop = func() error {
		defer srv.Close()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return hs.Shutdown(shutdownCtx)
	}
	return ws, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strings"
	"syscall"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/internal/reload"
	"github.com/tidings/tidings/templates"
)

// liveConfig loads the configuration and templates of a long-running
// command (worker, scheduler, demo) into a holder that watchConfig keeps
// current. finish, if not nil, gets every configuration that loaded
// cleanly: it may complete it (the demo's outbox) or reject it. A failing
// first load prints its problems and returns the exit code, as loadAll does.
func (a *app) liveConfig(finish func(*campaigns.Config) error) (*reload.Holder, error) {
	h := reload.New(func() (*campaigns.Config, *templates.Set, error) {
		cfg, tmpl, err := a.load()
		if err == nil && finish != nil {
			err = finish(cfg)
		}
		if err != nil {
			return nil, nil, err
		}
		return cfg, tmpl, nil
	}, a.log, a.configDir, a.templatesDir)
	if err := h.Reload(); err != nil {
		return nil, a.loadFailed(err)
	}
	return h, nil
}

// watchConfig reloads h on SIGHUP and when files under the configuration
// or templates folder change, until ctx ends or the returned stop is
// called. SIGHUP is caught from the moment it returns.
func (a *app) watchConfig(ctx context.Context, h *reload.Holder) (stop func()) {
	sighup := make(chan os.Signal, 1)
	signal.Notify(sighup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Watch(ctx, sighup)
	}()
	return func() {
		signal.Stop(sighup)
		cancel()
		<-done
	}
}

// startedWorker is what a worker built once, at start, from tidings.yaml:
// the senders with their providers, rates and outbox, and the sweeper's
// timeout. A reload changes campaigns, segments, templates and the settings
// read for every task (batch_size, max_retries, frequency_cap, brand,
// public_url, default_timezone, channels.break_after, SMS footers and
// segment limits); the others need a restart, and a reload says so.
type startedWorker struct {
	settings campaigns.Settings
	senders  map[string]channels.Sender
}

// check rejects a configuration with a campaign on a channel the worker has
// no sender for, and warns about settings that need a restart. A nil
// receiver (the first load, before the worker is built) accepts anything.
func (w *startedWorker) check(log *slog.Logger, cfg *campaigns.Config) error {
	if w == nil {
		return nil
	}
	var errs []error
	for _, name := range cfg.CampaignNames() {
		var missing []string
		c := cfg.Campaigns[name]
		for _, v := range c.Variants() { // the campaign and its follow-ups
			for _, ch := range v.Channels {
				if w.senders[ch] == nil && !slices.Contains(missing, ch) {
					missing = append(missing, ch)
					errs = append(errs, fmt.Errorf("%s: campaign %s sends %s, but this worker started without a provider for it (channels.%s in tidings.yaml, or delivery.outbox); restart it after configuring one", c.File, c.Name, ch, ch))
				}
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	was, now := restartSettings(w.settings), restartSettings(cfg.Settings)
	var changed []string
	for k := range now {
		if !reflect.DeepEqual(was[k], now[k]) {
			changed = append(changed, k)
		}
	}
	if len(changed) > 0 {
		slices.Sort(changed)
		log.Warn("tidings.yaml settings changed that take effect only after a restart; running with the old ones",
			"settings", strings.Join(changed, ", "))
	}
	return nil
}

// restartSettings are the settings of tidings.yaml a worker reads only at
// start, by their keys there.
func restartSettings(s campaigns.Settings) map[string]any {
	return map[string]any{
		"email_from":               s.EmailFrom,
		"channels.email":           s.Channels.Email,
		"channels.sms.twilio":      s.Channels.SMS.Twilio,
		"channels.sms.rate":        s.Channels.SMS.Rate,
		"channels.sms.outbox":      s.Channels.SMS.Outbox,
		"delivery.outbox":          s.Delivery.Outbox,
		"delivery.outbox_delay":    s.Delivery.OutboxDelay,
		"delivery.sending_timeout": s.Delivery.SendingTimeout,
	}
}

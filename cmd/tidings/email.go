package main

import (
	"errors"
	"net/mail"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
)

// emailSender adds the SMTP channel when channels.email.smtp is configured.
func (a *app) emailSender(cfg *campaigns.Config, from mail.Address, out map[string]channels.Sender) error {
	if cfg.Settings.Channels.Email.SMTP == nil {
		return nil
	}
	return errors.New("channels.email.smtp: the SMTP adapter is not wired yet")
}

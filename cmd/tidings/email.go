package main

import (
	"errors"
	"fmt"
	"net/mail"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/channels/email"
)

// emailSender adds the SMTP channel when channels.email.smtp is configured;
// the password comes from TIDINGS_SMTP_PASSWORD and the DKIM key from
// TIDINGS_DKIM_KEY.
func (a *app) emailSender(cfg *campaigns.Config, from mail.Address, out map[string]channels.Sender) error {
	es := cfg.Settings.Channels.Email
	if es.SMTP == nil {
		return nil
	}
	c := email.Config{
		Host: es.SMTP.Host, Port: es.SMTP.Port, TLS: email.TLSMode(es.SMTP.TLS),
		Username: es.SMTP.Username, Password: a.getenv("TIDINGS_SMTP_PASSWORD"),
		From: from, ReplyTo: es.ReplyTo, Timeout: es.SMTP.Timeout, MaxConnections: es.SMTP.MaxConnections,
		MaxPerConnection: es.SMTP.MessagesPerConnection,
	}
	if es.DKIM != nil {
		key := a.getenv("TIDINGS_DKIM_KEY")
		if key == "" {
			return errors.New("channels.email.dkim is set, but TIDINGS_DKIM_KEY (the PEM private key) is not")
		}
		c.DKIM = &email.DKIM{Domain: es.DKIM.Domain, Selector: es.DKIM.Selector, PrivateKeyPEM: []byte(key)}
	}
	sender, err := email.New(c, a.log.With("channel", "email"))
	if err != nil {
		return fmt.Errorf("channels.email.smtp: %w", err)
	}
	out[channels.Email] = sender
	return nil
}

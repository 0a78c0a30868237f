package campaigns_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tidings/tidings/campaigns"
)

// channels.sms.outbox sends SMS to files while email keeps its SMTP server,
// as the Docker Compose setup does (deploy/compose/configs/tidings.yaml).
func TestSMSOutbox(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tidings.yaml"), []byte(`public_url: https://news.tea.example
channels:
  email:
    smtp: {host: mailpit, port: 1025, tls: none}
  sms:
    outbox: /data/outbox
`), 0o644)
	s, err := campaigns.LoadSettings(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Channels.SMS.Outbox != "/data/outbox" || s.Channels.SMS.Twilio != nil || s.Delivery.Outbox != "" {
		t.Errorf("sms settings %+v, delivery.outbox %q", s.Channels.SMS, s.Delivery.Outbox)
	}
	if smtp := s.Channels.Email.SMTP; smtp == nil || smtp.Host != "mailpit" || smtp.Port != 1025 || smtp.TLS != "none" {
		t.Errorf("smtp %+v", smtp)
	}
	if d := campaigns.DefaultSettings(); d.Channels.SMS.Outbox != "" {
		t.Errorf("default channels.sms.outbox %q, want none", d.Channels.SMS.Outbox)
	}
}

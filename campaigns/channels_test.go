package campaigns_test

import (
	"os"
	"path/filepath"
	"strings"
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

// channels.email.smtp.messages_per_connection: 1000 unless set, and 1 to
// 100,000, with the key named in the error.
func TestSMTPMessagesPerConnection(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want int
		err  string
	}{
		{"{host: smtp.tea.example}", 1000, ""},
		{"{host: smtp.tea.example, messages_per_connection: 20}", 20, ""},
		{"{host: smtp.tea.example, messages_per_connection: 0}", 0, "channels.email.smtp.messages_per_connection"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "tidings.yaml"), []byte("public_url: https://news.tea.example\nchannels:\n  email:\n    smtp: "+tc.yaml+"\n"), 0o644)
		s, err := campaigns.LoadSettings(dir)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one naming %s", tc.yaml, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.yaml, err)
		case s.Channels.Email.SMTP.MessagesPerConnection != tc.want:
			t.Errorf("%s: %d messages per connection, want %d", tc.yaml, s.Channels.Email.SMTP.MessagesPerConnection, tc.want)
		}
	}
}

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

// The SMS opt-out follows the destination number's country where it has a
// rule, the locale elsewhere, and is never given twice.
func TestSMSWithFooter(t *testing.T) {
	shipped := campaigns.SMSSettings{Footers: map[string]string{"zh": "回T退订", "": "Reply STOP to opt out"}}
	halt := campaigns.SMSSettings{Footers: map[string]string{"": "Reply HALT to opt out", "fr": "STOP au 36180"}}
	const zhBody, enBody = "【茶语】王芳，新年快乐！回T退订", "Tidings: happy new year! Reply STOP to opt out"
	for _, tc := range []struct {
		name     string
		s        campaigns.SMSSettings
		body, to string
		locale   string
		want     string
	}{
		{"zh-CN on a US number", shipped, zhBody, "+12025550143", "zh-CN", "【茶语】王芳，新年快乐！ Reply STOP to opt out"},
		{"zh-CN on a Canadian number", shipped, zhBody, "+14165550123", "zh-CN", "【茶语】王芳，新年快乐！ Reply STOP to opt out"},
		{"zh-CN on a Puerto Rican number", shipped, zhBody, "+17875550123", "zh-CN", "【茶语】王芳，新年快乐！ Reply STOP to opt out"},
		{"zh-CN on an unassigned +1 area code", shipped, zhBody, "+15555550100", "zh-CN", "【茶语】王芳，新年快乐！ Reply STOP to opt out"},
		{"zh-CN on a Jamaican number: by locale", shipped, zhBody, "+18765550123", "zh-CN", zhBody},
		{"zh-CN in China", shipped, zhBody, "+8613800138000", "zh-CN", zhBody},
		{"en in China", shipped, enBody, "+8613800138000", "en", "Tidings: happy new year! 回T退订"},
		{"en in the US", shipped, enBody, "+12025550143", "en", enBody},
		{"zh-TW in Taiwan: by locale", shipped, zhBody, "+886912345678", "zh-TW", zhBody},
		{"en in the UK: by locale", shipped, enBody, "+447911123456", "en-GB", enBody},
		{"STOP already in the text", shipped, "王芳，新年快乐！Text STOP to quit. 谢谢", "+12025550143", "zh-CN", "王芳，新年快乐！Text STOP to quit. 谢谢"},
		{"退订 already in the text", shipped, "Happy new year! 退订回复TD", "+8613800138000", "en", "Happy new year! 退订回复TD"},
		{"STOPPED is not STOP", shipped, "Never STOPPED brewing. 回T退订", "+12025550143", "zh", "Never STOPPED brewing. Reply STOP to opt out"},
		{"no footer in the template", shipped, "王芳，新年快乐！", "+12025550143", "zh-CN", "王芳，新年快乐！ Reply STOP to opt out"},
		{"Chinese after Chinese, no space", shipped, "Happy new year，王芳。", "+8613800138000", "en", "Happy new year，王芳。回T退订"},
		{"a configured footer without STOP", halt, "Happy new year! Reply HALT to opt out", "+12025550143", "en", "Happy new year! Reply STOP to opt out"},
		{"a configured footer without 退订", halt, "Happy new year! Reply HALT to opt out", "+8613800138000", "en", "Happy new year! 回T退订"},
		{"by locale elsewhere", halt, "Bonne année ! STOP au 36180", "+33612345678", "fr", "Bonne année ! STOP au 36180"},
		{"by locale, added when missing", halt, "Bonne année !", "+33612345678", "fr", "Bonne année ! STOP au 36180"},
		{"no footer configured: as it is", campaigns.SMSSettings{}, zhBody, "+12025550143", "zh-CN", zhBody},
	} {
		if got := tc.s.WithFooter(tc.body, tc.to, tc.locale); got != tc.want {
			t.Errorf("%s: %q to %s (%s) becomes %q, want %q", tc.name, tc.body, tc.to, tc.locale, got, tc.want)
		}
	}
}

package outbox_test

import (
	"mime"
	"net/mail"
	"os"
	"strings"
	"testing"

	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/channels/outbox"
)

// An .eml file shows a customer's name and subject as they are in a mail
// client: an encoded word in them is not decoded, a line break is a space.
func TestEmailHeadersShownAsWritten(t *testing.T) {
	o := outbox.New(t.TempDir(), mail.Address{Name: "茶语 Tidings Tea", Address: "hello@tea.example"}, 0)
	for i, tc := range []struct{ name, want string }{
		{"=?UTF-8?B?RXZpbA0KQmNjOiB4QHkuY29t?=", "=?UTF-8?B?RXZpbA0KQmNjOiB4QHkuY29t?="},
		{"Li =?utf-8?q?Lei=0D=0ABcc:_x@y.com?= Wei", "Li =?utf-8?q?Lei=0D=0ABcc:_x@y.com?= Wei"},
		{"Li\r\nWei", "Li Wei"},
		{"王芳", "王芳"},
		{"Li Lei", "Li Lei"},
	} {
		m := channels.Message{
			DeliveryID: "greeting:2027:1:email", Channel: channels.Email, Campaign: "greeting", Occurrence: "2027",
			CustomerID: int64(i + 1), To: "rcpt@example.com", ToName: tc.name, Subject: "Happy new year, " + tc.name,
			Text: "Happy new year\n",
		}
		path, err := o.Send(t.Context(), m)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := msg.Header["Bcc"]; ok || len(msg.Header["To"]) != 1 {
			t.Errorf("%q: headers %v", tc.name, msg.Header)
		}
		raw := msg.Header.Get("To")
		a, err := mail.ParseAddress(raw)
		if err != nil {
			t.Fatalf("To %q: %v", raw, err)
		}
		name := a.Name
		if strings.HasPrefix(raw, `"`) {
			// Thunderbird, Outlook and Gmail decode encoded words in a
			// quoted name too, although RFC 2047 §5 says they are none.
			name = decode(t, name)
		}
		if name != tc.want || a.Address != "rcpt@example.com" {
			t.Errorf("To %q is shown as %q <%s>, want %q", raw, name, a.Address, tc.want)
		}
		if subject := decode(t, msg.Header.Get("Subject")); subject != "Happy new year, "+tc.want {
			t.Errorf("Subject %q is shown as %q, want %q", msg.Header.Get("Subject"), subject, "Happy new year, "+tc.want)
		}
		if from, err := mail.ParseAddress(msg.Header.Get("From")); err != nil || from.Name != "茶语 Tidings Tea" {
			t.Errorf("From %q: %v %v", msg.Header.Get("From"), from, err)
		}
	}
}

func decode(t *testing.T, s string) string {
	t.Helper()
	var dec mime.WordDecoder
	out, err := dec.DecodeHeader(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return out
}

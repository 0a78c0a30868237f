package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/tidings/tidings/channels"
)

// testBundle is a server and a Sender pointed at it.
type testBundle struct {
	server *testServer
	sender *Sender
	cfg    Config
}

// setup starts a server and a Sender for it; mod adjusts the Sender's
// configuration before New.
func setup(t testing.TB, sc serverConfig, mod func(*Config)) *testBundle {
	t.Helper()
	ts := startServer(t, sc)
	cfg := Config{
		Host:      "127.0.0.1",
		Port:      ts.addr.Port,
		TLS:       NoTLS,
		From:      mail.Address{Name: "Tidings Shop", Address: "news@shop.example"},
		Timeout:   5 * time.Second,
		HelloName: "worker.test",
	}
	if mod != nil {
		mod(&cfg)
	}
	var log *slog.Logger // discard: a fuzz run would drown in it
	if _, fuzzing := t.(*testing.F); !fuzzing {
		log = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &testBundle{server: ts, sender: s, cfg: s.cfg}
}

func message(id, to string) channels.Message {
	return channels.Message{
		DeliveryID:     id,
		Channel:        channels.Email,
		Campaign:       "spring-sale",
		Occurrence:     "2027-03-01",
		CustomerID:     42,
		To:             to,
		ToName:         "Li Lei",
		Subject:        "Spring sale: 20% off",
		Text:           "Hello Li Lei,\nour spring sale starts today.\n",
		HTML:           "<p>Hello Li Lei,</p>\n<p>our spring sale starts today.</p>\n",
		UnsubscribeURL: "https://shop.example/u/" + id,
	}
}

// wantError checks that err is a *channels.Error of the given kind
// ("retryable", "permanent" or "ambiguous") and reason.
func wantError(t *testing.T, err error, kind string, reason channels.Reason) *channels.Error {
	t.Helper()
	var ce *channels.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *channels.Error", err, err)
	}
	got := "permanent"
	switch {
	case ce.Ambiguous:
		got = "ambiguous"
	case ce.Retryable:
		got = "retryable"
	}
	if got != kind || ce.Reason != reason {
		t.Fatalf("error %q is %s/%s, want %s/%s", err, got, ce.Reason, kind, reason)
	}
	return ce
}

func parse(t testing.TB, data []byte) *mail.Message {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse received message: %v\n%s", err, data)
	}
	return msg
}

func headerKeys(h mail.Header) []string {
	var keys []string
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// part is one decoded MIME part.
type part struct {
	contentType string
	charset     string
	body        string
}

// parts reads a message's body: the parts of a multipart/alternative, or
// the single part.
func parts(t testing.TB, msg *mail.Message) (string, []part) {
	t.Helper()
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		body := io.Reader(msg.Body)
		if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(body)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		return mediaType, []part{{mediaType, params["charset"], crlf(string(b))}}
	}
	var ps []part
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, cp, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, part{ct, cp["charset"], crlf(string(b))})
	}
	return mediaType, ps
}

func crlf(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

func TestSendMessage(t *testing.T) {
	t.Parallel()
	b := setup(t, serverConfig{}, func(c *Config) { c.ReplyTo = "Customer care <care@shop.example>" })
	m := message("spring-sale:2027-03-01:42:email", "lilei@example.com")
	m.UnsubscribeURL = "https://shop.example/u/abc123?c=spring"

	before := time.Now()
	id, err := b.sender.Send(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	if want := "<spring-sale_2027-03-01_42_email@shop.example>"; id != want {
		t.Errorf("provider id %q, want %q", id, want)
	}
	msgs := b.server.messages()
	if len(msgs) != 1 {
		t.Fatalf("server received %d messages, want 1", len(msgs))
	}
	if msgs[0].From != "news@shop.example" || !slices.Equal(msgs[0].To, []string{"lilei@example.com"}) {
		t.Errorf("envelope from %q to %q", msgs[0].From, msgs[0].To)
	}

	msg := parse(t, msgs[0].Data)
	h := msg.Header
	wantKeys := []string{"Content-Type", "Date", "From", "List-Unsubscribe", "List-Unsubscribe-Post",
		"Message-Id", "Mime-Version", "Reply-To", "Subject", "To"}
	if got := headerKeys(h); !slices.Equal(got, wantKeys) {
		t.Errorf("headers %q, want %q", got, wantKeys)
	}
	for _, tc := range []struct{ key, want string }{
		{"From", `"Tidings Shop" <news@shop.example>`},
		{"To", `"Li Lei" <lilei@example.com>`},
		{"Reply-To", `"Customer care" <care@shop.example>`},
		{"Subject", "Spring sale: 20% off"},
		{"Message-Id", id},
		{"Mime-Version", "1.0"},
		{"List-Unsubscribe", "<https://shop.example/u/abc123?c=spring>, " +
			"<mailto:unsubscribe@shop.example?subject=unsubscribe-spring-sale_2027-03-01_42_email>"},
		{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
	} {
		if got := h[tc.key]; len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s: %q, want %q", tc.key, got, tc.want)
		}
	}
	date, err := h.Date()
	if err != nil {
		t.Errorf("Date: %v", err)
	} else if date.Before(before.Add(-time.Second)) || date.After(time.Now().Add(time.Second)) {
		t.Errorf("Date %v, want about %v", date, before)
	}

	mediaType, ps := parts(t, msg)
	if mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q, want multipart/alternative", mediaType)
	}
	want := []part{{"text/plain", "utf-8", m.Text}, {"text/html", "utf-8", m.HTML}}
	if len(ps) != len(want) {
		t.Fatalf("%d parts, want %d: %+v", len(ps), len(want), ps)
	}
	for i := range want {
		if ps[i].contentType != want[i].contentType || !strings.EqualFold(ps[i].charset, want[i].charset) || ps[i].body != want[i].body {
			t.Errorf("part %d: %+v, want %+v", i, ps[i], want[i])
		}
	}
}

func TestSendLongUnsubscribeURL(t *testing.T) {
	t.Parallel()
	b := setup(t, serverConfig{}, nil)
	m := message("d-1", "x@example.com")
	m.UnsubscribeURL = "https://shop.example/u?t=" + strings.Repeat("x", 870)
	if _, err := b.sender.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	data := b.server.messages()[0].Data
	for _, line := range strings.Split(string(data), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("a %d-byte line", len(line))
		}
	}
	want := "<" + m.UnsubscribeURL + ">, <mailto:unsubscribe@shop.example?subject=unsubscribe-d-1>" // unfolded
	if got := parse(t, data).Header.Get("List-Unsubscribe"); got != want {
		t.Errorf("List-Unsubscribe %q, want %q", got, want)
	}
}

func TestSendSinglePart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, text, html, wantType string
	}{
		{"text only", "Hello,\nplain text.\n", "", "text/plain"},
		{"html only", "", "<p>Hello</p>\n", "text/html"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, serverConfig{}, nil)
			m := message("d-1", "lilei@example.com")
			m.Text, m.HTML, m.UnsubscribeURL = tc.text, tc.html, ""
			if _, err := b.sender.Send(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			msg := parse(t, b.server.messages()[0].Data)
			if got := msg.Header.Get("List-Unsubscribe") + msg.Header.Get("List-Unsubscribe-Post"); got != "" {
				t.Errorf("List-Unsubscribe headers %q without an unsubscribe URL", got)
			}
			mediaType, ps := parts(t, msg)
			if mediaType != tc.wantType || len(ps) != 1 || !strings.EqualFold(ps[0].charset, "utf-8") || ps[0].body != tc.text+tc.html {
				t.Errorf("got %s %+v, want one %s part in utf-8 with %q", mediaType, ps, tc.wantType, tc.text+tc.html)
			}
		})
	}
}

func TestSendChinese(t *testing.T) {
	t.Parallel()
	b := setup(t, serverConfig{}, func(c *Config) { c.From.Name = "提丁斯商城" })
	m := message("birthday-gift:2027:7:email", "wangfang@example.com")
	m.ToName = "王芳"
	m.Subject = "生日快乐！送您¥50礼券"
	m.Text = "王芳，您好：\n祝您生日快乐！凭券码 BDAY-7XK2 立减¥50，30天内有效。\n"
	m.HTML = "<p>王芳，您好：</p><p>祝您生日快乐！</p>"
	if _, err := b.sender.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	data := b.server.messages()[0].Data
	head := data[:bytes.Index(data, []byte("\r\n\r\n"))]
	for i, c := range head {
		if c >= 0x80 {
			t.Fatalf("raw 8-bit byte in the header at %d: %q", i, head)
		}
	}
	msg := parse(t, data)
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != m.Subject {
		t.Errorf("Subject %q (%v), want %q", subject, err, m.Subject)
	}
	to, err := mail.ParseAddress(msg.Header.Get("To"))
	if err != nil || to.Name != "王芳" || to.Address != m.To {
		t.Errorf("To %v (%v), want 王芳 <%s>", to, err, m.To)
	}
	from, err := mail.ParseAddress(msg.Header.Get("From"))
	if err != nil || from.Name != "提丁斯商城" {
		t.Errorf("From %v (%v), want 提丁斯商城", from, err)
	}
	_, ps := parts(t, msg)
	if len(ps) != 2 || ps[0].body != m.Text || ps[1].body != m.HTML {
		t.Errorf("parts %+v, want the Chinese text and HTML", ps)
	}
}

// net/mail Q-encodes a non-ASCII name with a backslash into an encoded-word
// that does not parse; setAddress B-encodes it instead.
func TestSendBackslashInName(t *testing.T) {
	t.Parallel()
	b := setup(t, serverConfig{}, func(c *Config) {
		c.From.Name = `提丁斯\商城`
		c.ReplyTo = `"客服\\中心" <care@shop.example>`
	})
	m := message("d-1", "wangfang@example.com")
	m.ToName = `王芳\VIP ` + strings.Repeat("很长的名字", 12)
	if _, err := b.sender.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	msg := parse(t, b.server.messages()[0].Data)
	for _, tc := range []struct{ key, name, addr string }{
		{"From", `提丁斯\商城`, "news@shop.example"},
		{"To", m.ToName, "wangfang@example.com"},
		{"Reply-To", `客服\中心`, "care@shop.example"},
	} {
		if got := msg.Header[tc.key]; len(got) != 1 {
			t.Fatalf("%d %s headers", len(got), tc.key)
		}
		a, err := mail.ParseAddress(msg.Header.Get(tc.key))
		if err != nil || a.Name != tc.name || a.Address != tc.addr {
			t.Errorf("%s %q parses to %v (%v), want %q <%s>", tc.key, msg.Header.Get(tc.key), a, err, tc.name, tc.addr)
		}
	}
}

// A name or subject that holds an RFC 2047 encoded word arrives as those
// characters: a client decoding the headers does not turn a customer named
// "=?UTF-8?B?RXZpbA0KQmNjOiB4QHkuY29t?=" into "Evil", a line break and
// "Bcc: x@y.com".
func TestEncodedWordsInNamesAndSubjectsArriveLiterally(t *testing.T) {
	t.Parallel()
	b := setup(t, serverConfig{}, nil)
	for i, name := range []string{
		"=?UTF-8?B?RXZpbA0KQmNjOiB4QHkuY29t?=",
		"Li =?utf-8?q?Lei=0D=0ABcc:_x@y.com?= Wei",
		"王芳=?UTF-8?B?RXZpbA0KQmNjOiB4QHkuY29t?=",
		`王\芳 =?utf-8?b?RXZl?=`,
		"=?utf-8?b?" + strings.Repeat("RXZpbA0KQmNjOiB4QHkuY29t", 6) + "?= " + strings.Repeat("很长的名字", 8),
		"a =? b ?= c",
	} {
		m := message(fmt.Sprintf("d-%d", i), "rcpt@example.com")
		m.ToName, m.Subject = name, "Happy birthday, "+name
		if _, err := b.sender.Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
		got := b.server.messages()[i].Data
		msg := parse(t, got)
		if keys := headerKeys(msg.Header); slices.Contains(keys, "Bcc") || len(msg.Header["To"]) != 1 {
			t.Errorf("name %q: headers %q", name, keys)
		}
		if shown, addr := clientAddress(t, msg.Header.Get("To")); shown != name || addr != "rcpt@example.com" {
			t.Errorf("To %q is shown as %q <%s>, want %q <rcpt@example.com>", msg.Header.Get("To"), shown, addr, name)
		}
		if shown := clientText(t, msg.Header.Get("Subject")); shown != m.Subject {
			t.Errorf("Subject %q is shown as %q, want %q", msg.Header.Get("Subject"), shown, m.Subject)
		}
		for _, line := range strings.Split(string(got[:bytes.Index(got, []byte("\r\n\r\n"))]), "\r\n") {
			if len(line) > 998 {
				t.Errorf("name %q: a header line of %d bytes", name, len(line))
			}
		}
	}
}

// clientAddress reads an address header as a mail client shows it: net/mail
// parses it and decodes its encoded words, and a client also decodes those
// in a quoted name, as Thunderbird, Outlook and Gmail do although RFC 2047
// §5 says they are not encoded words there.
func clientAddress(t *testing.T, raw string) (name, addr string) {
	t.Helper()
	a, err := mail.ParseAddress(raw)
	if err != nil {
		t.Fatalf("address %q: %v", raw, err)
	}
	name = a.Name
	if strings.HasPrefix(strings.TrimSpace(raw), `"`) {
		name = clientText(t, name)
	}
	return name, a.Address
}

// clientText decodes the encoded words of unstructured header text, as a
// mail client does.
func clientText(t *testing.T, raw string) string {
	t.Helper()
	var dec mime.WordDecoder
	text, err := dec.DecodeHeader(raw)
	if err != nil {
		t.Fatalf("decode %q: %v", raw, err)
	}
	return text
}

// A server's own limit of messages per connection, lower than
// messages_per_connection, costs a reconnection, not a failure: whether it
// closes the connection with a 421 or refuses MAIL FROM with a 452.
func TestServerLimitsMessagesPerConnection(t *testing.T) {
	t.Parallel()
	for _, reply := range []bool{false, true} {
		t.Run(fmt.Sprintf("452=%v", reply), func(t *testing.T) {
			t.Parallel()
			b := setup(t, serverConfig{perConnection: 5, limitReply: reply}, func(c *Config) { c.MaxConnections, c.MaxPerConnection = 1, 1000 })
			for i := range 16 {
				m := message(fmt.Sprintf("d-%d", i), fmt.Sprintf("r%d@example.com", i))
				if _, err := b.sender.Send(t.Context(), m); err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
			}
			if n, c := len(b.server.messages()), b.server.connections(); n != 16 || c != 4 {
				t.Errorf("%d messages over %d connections, want 16 over 4", n, c)
			}
		})
	}
}

func TestTransientReplies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		rule    rule
		wantErr string
	}{
		{"421 to RCPT TO", rule{rcpt: []*gosmtp.SMTPError{{Code: 421, EnhancedCode: gosmtp.EnhancedCode{4, 3, 2}, Message: "try again later"}}},
			"smtp RCPT TO:<x@example.com>: 421 4.3.2 try again later"},
		{"450 to RCPT TO", rule{rcpt: []*gosmtp.SMTPError{{Code: 450, EnhancedCode: gosmtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy"}}},
			"smtp RCPT TO:<x@example.com>: 450 4.2.1 mailbox busy"},
		{"451 to RCPT TO", rule{rcpt: []*gosmtp.SMTPError{{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 7, 1}, Message: "greylisted, come back later"}}},
			"smtp RCPT TO:<x@example.com>: 451 4.7.1 greylisted, come back later"},
		{"451 twice", rule{rcpt: []*gosmtp.SMTPError{
			{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "local error"},
			{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "local error"}}},
			"smtp RCPT TO:<x@example.com>: 451 4.3.0 local error"},
		{"452 after the message", rule{data: []*gosmtp.SMTPError{{Code: 452, EnhancedCode: gosmtp.EnhancedCode{4, 3, 1}, Message: "insufficient storage"}}},
			"smtp DATA (final reply): 452 4.3.1 insufficient storage"},
		{"421 after the message", rule{data: []*gosmtp.SMTPError{{Code: 421, EnhancedCode: gosmtp.EnhancedCode{4, 3, 2}, Message: "shutting down"}}},
			"smtp DATA (final reply): 421 4.3.2 shutting down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, serverConfig{}, nil)
			b.server.on("x@example.com", &tc.rule)
			m := message("d-1", "x@example.com")
			failures := max(len(tc.rule.rcpt), len(tc.rule.data))
			for range failures {
				_, err := b.sender.Send(t.Context(), m)
				ce := wantError(t, err, "retryable", channels.ReasonUnavailable)
				if ce.RetryAfter != 0 {
					t.Errorf("RetryAfter %v, want 0", ce.RetryAfter)
				}
				if !strings.HasSuffix(err.Error(), tc.wantErr) {
					t.Errorf("error %q, want it to end %q", err, tc.wantErr)
				}
				if n := b.server.messagesTo(m.To); n != 0 {
					t.Fatalf("server accepted %d messages", n)
				}
			}
			// The pipeline retries.
			if _, err := b.sender.Send(t.Context(), m); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if n := b.server.messagesTo(m.To); n != 1 {
				t.Errorf("server accepted %d messages, want exactly 1", n)
			}
		})
	}
}

func TestPermanentReplies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		rule       rule
		wantReason channels.Reason
		wantErr    string
	}{
		{"550 5.1.1", rule{rcpt: []*gosmtp.SMTPError{{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}}},
			ReasonNoSuchUser, "smtp RCPT TO:<x@example.com>: 550 5.1.1 no such user"},
		{"550 without enhanced code", rule{rcpt: []*gosmtp.SMTPError{{Code: 550, EnhancedCode: gosmtp.NoEnhancedCode, Message: "mailbox unavailable"}}},
			ReasonNoSuchUser, "smtp RCPT TO:<x@example.com>: 550 mailbox unavailable"},
		{"551 5.1.10 null MX", rule{rcpt: []*gosmtp.SMTPError{{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 10}, Message: "recipient domain has null MX"}}},
			ReasonNoSuchUser, "550 5.1.10 recipient domain has null MX"},
		{"553 5.1.3", rule{rcpt: []*gosmtp.SMTPError{{Code: 553, EnhancedCode: gosmtp.EnhancedCode{5, 1, 3}, Message: "bad recipient address syntax"}}},
			channels.ReasonInvalidAddress, "553 5.1.3 bad recipient address syntax"},
		{"550 5.7.1 policy", rule{rcpt: []*gosmtp.SMTPError{{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "relaying denied"}}},
			channels.ReasonRejected, "smtp RCPT TO:<x@example.com>: 550 5.7.1 relaying denied"},
		{"554 after the message", rule{data: []*gosmtp.SMTPError{{Code: 554, EnhancedCode: gosmtp.EnhancedCode{5, 6, 0}, Message: "content rejected"}}},
			channels.ReasonRejected, "smtp DATA (final reply): 554 5.6.0 content rejected"},
		{"550 5.1.1 after the message", rule{data: []*gosmtp.SMTPError{{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}}},
			ReasonNoSuchUser, "smtp DATA (final reply): 550 5.1.1 no such user here"},
		{"bare 550 after the message", rule{data: []*gosmtp.SMTPError{{Code: 550, EnhancedCode: gosmtp.NoEnhancedCode, Message: "spam"}}},
			channels.ReasonRejected, "smtp DATA (final reply): 550 spam"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, serverConfig{}, nil)
			b.server.on("x@example.com", &tc.rule)
			_, err := b.sender.Send(t.Context(), message("d-1", "x@example.com"))
			wantError(t, err, "permanent", tc.wantReason)
			if !strings.HasSuffix(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want it to end %q", err, tc.wantErr)
			}
			if n := b.server.rcptAttempts("x@example.com"); n != 1 {
				t.Errorf("%d RCPT TO attempts, want 1: the adapter must not retry", n)
			}
			// The server refused politely: the connection carries on.
			if _, err := b.sender.Send(t.Context(), message("d-2", "ok@example.com")); err != nil {
				t.Fatal(err)
			}
			if n := b.server.connections(); n != 1 {
				t.Errorf("%d connections, want 1", n)
			}
			if n := len(b.server.messages()); n != 1 {
				t.Errorf("%d messages, want 1", n)
			}
		})
	}
}

func TestAmbiguous(t *testing.T) {
	t.Parallel()
	t.Run("connection dropped after the message", func(t *testing.T) {
		t.Parallel()
		b := setup(t, serverConfig{}, nil)
		b.server.on("x@example.com", &rule{drop: true})
		_, err := b.sender.Send(t.Context(), message("d-1", "x@example.com"))
		wantError(t, err, "ambiguous", channels.ReasonAmbiguous)
		if !strings.Contains(err.Error(), "smtp DATA (final reply): message sent, no reply") {
			t.Errorf("error %q does not say what happened", err)
		}
		b.server.mu.Lock()
		n := len(b.server.payloads)
		b.server.mu.Unlock()
		if n != 1 {
			t.Errorf("server read %d payloads, want 1", n)
		}
		// The next message gets a new connection.
		if _, err := b.sender.Send(t.Context(), message("d-2", "ok@example.com")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no final reply in time", func(t *testing.T) {
		t.Parallel()
		b := setup(t, serverConfig{}, func(c *Config) { c.Timeout = 300 * time.Millisecond })
		hold := make(chan struct{})
		t.Cleanup(func() { close(hold) }) // before the server closes
		b.server.on("x@example.com", &rule{hold: hold})
		_, err := b.sender.Send(t.Context(), message("d-1", "x@example.com"))
		wantError(t, err, "ambiguous", channels.ReasonAmbiguous)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("error %q is not a timeout", err)
		}
	})
	t.Run("context cancelled waiting for the final reply", func(t *testing.T) {
		t.Parallel()
		b := setup(t, serverConfig{}, nil)
		hold, arrived := make(chan struct{}), make(chan struct{}, 1)
		t.Cleanup(func() { close(hold) })
		b.server.on("x@example.com", &rule{hold: hold, arrived: arrived})
		ctx, cancel := context.WithCancel(t.Context())
		go func() { <-arrived; cancel() }()
		_, err := b.sender.Send(ctx, message("d-1", "x@example.com"))
		wantError(t, err, "ambiguous", channels.ReasonAmbiguous)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %q does not say the context was cancelled", err)
		}
	})
}

func TestContextCancelledBeforeSending(t *testing.T) {
	t.Parallel()
	b := setup(t, serverConfig{}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := b.sender.Send(ctx, message("d-1", "x@example.com"))
	wantError(t, err, "retryable", channels.ReasonUnavailable)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %q does not say the context was cancelled", err)
	}
	if n := b.server.connections(); n != 0 {
		t.Errorf("%d connections, want none", n)
	}
}

func TestConnectionReuse(t *testing.T) {
	t.Parallel()
	send := func(t *testing.T, b *testBundle, workers, n int) {
		t.Helper()
		var (
			wg   sync.WaitGroup
			next atomic.Int64
			errs = make(chan error, n)
		)
		for range workers {
			wg.Go(func() {
				for i := next.Add(1); i <= int64(n); i = next.Add(1) {
					if _, err := b.sender.Send(t.Context(), message(fmt.Sprintf("d-%d", i), fmt.Sprintf("c%d@example.com", i))); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := len(b.server.messages()); got != n {
			t.Errorf("server received %d messages, want %d", got, n)
		}
	}
	for _, tc := range []struct {
		name              string
		workers           int
		maxConnections    int
		maxPerConnection  int
		minConns, maxConn int
	}{
		{"sequential", 1, 0, 0, 1, 1},
		{"8 goroutines", 8, 0, 0, 1, DefaultMaxConnections},
		{"8 goroutines, 2 connections", 8, 2, 0, 1, 2},
		{"10 per connection", 1, 0, 10, 5, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, serverConfig{}, func(c *Config) {
				c.MaxConnections, c.MaxPerConnection = tc.maxConnections, tc.maxPerConnection
			})
			send(t, b, tc.workers, 50)
			if n := b.server.connections(); n < tc.minConns || n > tc.maxConn {
				t.Errorf("%d connections for 50 messages, want %d to %d", n, tc.minConns, tc.maxConn)
			}
		})
	}
}

func TestIdleConnectionReplaced(t *testing.T) {
	t.Parallel()
	b := setup(t, serverConfig{}, nil)
	if _, err := b.sender.Send(t.Context(), message("d-1", "a@example.com")); err != nil {
		t.Fatal(err)
	}
	b.server.dropAll() // "421 closing idle connection", then gone
	if _, err := b.sender.Send(t.Context(), message("d-2", "b@example.com")); err != nil {
		t.Fatalf("a lost idle connection must be replaced transparently: %v", err)
	}
	if n := b.server.connections(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
	if n := len(b.server.messages()); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}
}

func TestStaleIdleConnectionClosed(t *testing.T) {
	t.Parallel()
	b := setup(t, serverConfig{}, nil)
	b.sender.maxIdle = time.Nanosecond
	for i := range 3 {
		if _, err := b.sender.Send(t.Context(), message(fmt.Sprintf("d-%d", i), "a@example.com")); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.server.connections(); n != 3 {
		t.Errorf("%d connections, want 3: an idle connection past maxIdle must not be used", n)
	}
}

func TestInvalidRecipient(t *testing.T) {
	t.Parallel()
	b := setup(t, serverConfig{}, nil)
	for _, to := range []string{
		"",
		"not-an-address",
		"lilei@",
		"lilei@example.com\r\nBcc: evil@example.net",
		"lilei@example.com\n",
		"Li Lei <lilei@example.com>",
		"<lilei@example.com>",
		"lilei@example.com, evil@example.net",
		`"li lei"@example.com`,
		"lilei@example.com (comment)",
		"li lei@example.com",
		"lilei@[127.0.0.1]",
		"\xfflilei@example.com",
	} {
		_, err := b.sender.Send(t.Context(), message("d-1", to))
		wantError(t, err, "permanent", channels.ReasonInvalidAddress)
	}
	if n := b.server.connections(); n != 0 {
		t.Errorf("%d connections: an invalid address must not reach the server", n)
	}
}

func TestRejectBadMessage(t *testing.T) {
	t.Parallel()
	b := setup(t, serverConfig{}, nil)
	for _, tc := range []struct {
		name    string
		edit    func(*channels.Message)
		wantErr string
	}{
		{"no body", func(m *channels.Message) { m.Text, m.HTML = "", "" }, "email: message d-1 has no body"},
		{"no delivery id", func(m *channels.Message) { m.DeliveryID = "" }, "email: message has no delivery id"},
		{"sms", func(m *channels.Message) { m.Channel = channels.SMS }, `email: message for channel "sms"`},
		{"http unsubscribe URL", func(m *channels.Message) { m.UnsubscribeURL = "http://shop.example/u" },
			`email: unsubscribe URL "http://shop.example/u": want https://host/…`},
		{"relative unsubscribe URL", func(m *channels.Message) { m.UnsubscribeURL = "/u/1" }, `email: unsubscribe URL "/u/1": want https://host/…`},
		{"long unsubscribe URL", func(m *channels.Message) { m.UnsubscribeURL = "https://shop.example/u?t=" + strings.Repeat("x", 900) },
			"email: unsubscribe URL is 925 bytes long, more than 900"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := message("d-1", "x@example.com")
			tc.edit(&m)
			_, err := b.sender.Send(t.Context(), m)
			wantError(t, err, "permanent", channels.ReasonInternal)
			if !strings.HasSuffix(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want it to end %q", err, tc.wantErr)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	t.Run("accepted", func(t *testing.T) {
		t.Parallel()
		b := setup(t, serverConfig{password: "s3cret-pw"}, func(c *Config) { c.Username, c.Password = "mailer", "s3cret-pw" })
		if _, err := b.sender.Send(t.Context(), message("d-1", "x@example.com")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("535", func(t *testing.T) {
		t.Parallel()
		b := setup(t, serverConfig{password: "s3cret-pw"}, func(c *Config) { c.Username, c.Password = "mailer", "wrong-pw" })
		_, err := b.sender.Send(t.Context(), message("d-1", "x@example.com"))
		wantError(t, err, "permanent", channels.ReasonAuth)
		if !strings.Contains(err.Error(), `AUTH 127.0.0.1:`) || !strings.Contains(err.Error(), `PLAIN as "mailer": 535 5.7.8`) {
			t.Errorf("error %q does not name the failure", err)
		}
		if strings.Contains(err.Error(), "wrong-pw") {
			t.Errorf("error %q shows the password", err)
		}
	})
	t.Run("no AUTH offered", func(t *testing.T) {
		t.Parallel()
		b := setup(t, serverConfig{}, func(c *Config) { c.Username, c.Password = "mailer", "s3cret-pw" })
		_, err := b.sender.Send(t.Context(), message("d-1", "x@example.com"))
		wantError(t, err, "permanent", channels.ReasonAuth)
		if !errors.Is(err, errNoAuth) {
			t.Errorf("error %q, want %q", err, errNoAuth)
		}
	})
	t.Run("server requires it", func(t *testing.T) {
		t.Parallel()
		b := setup(t, serverConfig{password: "s3cret-pw"}, nil)
		_, err := b.sender.Send(t.Context(), message("d-1", "x@example.com"))
		wantError(t, err, "permanent", channels.ReasonRejected)
		if !strings.Contains(err.Error(), "smtp MAIL FROM:<news@shop.example>: 502 5.7.0") {
			t.Errorf("error %q does not name the failure", err)
		}
	})
}

func TestTLS(t *testing.T) {
	t.Parallel()
	t.Run("starttls", func(t *testing.T) {
		t.Parallel()
		b := setup(t, serverConfig{startTLS: true, password: "s3cret-pw"}, func(c *Config) {
			c.TLS, c.InsecureSkipVerify = StartTLS, true
			c.Username, c.Password = "mailer", "s3cret-pw"
		})
		if _, err := b.sender.Send(t.Context(), message("d-1", "x@example.com")); err != nil {
			t.Fatal(err)
		}
		b.server.mu.Lock()
		sessions := slices.Clone(b.server.tls)
		b.server.mu.Unlock()
		if len(sessions) != 2 || sessions[0] || !sessions[1] {
			t.Errorf("sessions over TLS: %v, want [false true] (EHLO, STARTTLS, EHLO)", sessions)
		}
	})
	t.Run("implicit tls", func(t *testing.T) {
		t.Parallel()
		b := setup(t, serverConfig{implicitTLS: true, password: "s3cret-pw"}, func(c *Config) {
			c.TLS, c.InsecureSkipVerify = ImplicitTLS, true
			c.Username, c.Password = "mailer", "s3cret-pw"
		})
		if _, err := b.sender.Send(t.Context(), message("d-1", "x@example.com")); err != nil {
			t.Fatal(err)
		}
		b.server.mu.Lock()
		sessions := slices.Clone(b.server.tls)
		b.server.mu.Unlock()
		if !slices.Equal(sessions, []bool{true}) {
			t.Errorf("sessions over TLS: %v, want [true]", sessions)
		}
	})
	t.Run("starttls not offered", func(t *testing.T) {
		t.Parallel()
		b := setup(t, serverConfig{}, func(c *Config) { c.TLS = StartTLS })
		_, err := b.sender.Send(t.Context(), message("d-1", "x@example.com"))
		wantError(t, err, "retryable", channels.ReasonUnavailable)
		if !errors.Is(err, errNoStartTLS) {
			t.Errorf("error %q, want %q", err, errNoStartTLS)
		}
		if len(b.server.messages()) != 0 {
			t.Error("sent without TLS")
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, serverConfig{startTLS: true}, func(c *Config) { c.TLS = StartTLS })
		_, err := b.sender.Send(t.Context(), message("d-1", "x@example.com"))
		wantError(t, err, "retryable", channels.ReasonUnavailable)
		if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("error %q does not mention the certificate", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		s, err := New(Config{Host: "127.0.0.1", Port: port, TLS: NoTLS, From: mail.Address{Address: "news@shop.example"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Send(t.Context(), message("d-1", "x@example.com"))
		wantError(t, err, "retryable", channels.ReasonUnavailable)
		if !strings.Contains(err.Error(), "smtp connect 127.0.0.1:") {
			t.Errorf("error %q does not name the failure", err)
		}
	})
}

func TestDKIM(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	b := setup(t, serverConfig{}, func(c *Config) {
		c.DKIM = &DKIM{Domain: "shop.example", Selector: "tidings2027", PrivateKeyPEM: keyPEM}
	})
	m := message("d-1", "wangfang@example.com")
	m.ToName, m.Subject = "王芳", "生日快乐！送您¥50礼券"
	if _, err := b.sender.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	data := b.server.messages()[0].Data
	tags, err := verifyDKIM(data, &key.PublicKey)
	if err != nil {
		t.Fatalf("DKIM signature does not verify: %v\n%s", err, data)
	}
	if tags["d"] != "shop.example" || tags["s"] != "tidings2027" {
		t.Errorf("d=%s s=%s", tags["d"], tags["s"])
	}
	signed := strings.Split(strings.ToLower(tags["h"]), ":")
	for _, h := range []string{"from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post"} {
		if !slices.Contains(signed, h) {
			t.Errorf("h=%s does not sign %s", tags["h"], h)
		}
	}
	tampered := bytes.Replace(data, []byte("List-Unsubscribe: <https://shop.example/"), []byte("List-Unsubscribe: <https://evil.example/"), 1)
	if _, err := verifyDKIM(tampered, &key.PublicKey); err == nil {
		t.Error("a changed List-Unsubscribe still verifies: the verifier is broken")
	}
}

func TestConfigSecrets(t *testing.T) {
	t.Parallel()
	const password = "hunter2-TIDINGS"
	keyPEM := []byte("-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n")
	cfg := Config{
		Host: "smtp.example.com", Username: "mailer", Password: password,
		From: mail.Address{Name: "Tidings", Address: "news@shop.example"},
		DKIM: &DKIM{Domain: "shop.example", Selector: "s1", PrivateKeyPEM: keyPEM},
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "smtp", cfg, "dkim", cfg.DKIM)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "smtp", cfg, "dkim", *cfg.DKIM)
	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v", cfg),
		"%+v":  fmt.Sprintf("%+v", cfg),
		"%#v":  fmt.Sprintf("%#v", cfg),
		"&%v":  fmt.Sprintf("%+v", &cfg),
		"DKIM": fmt.Sprintf("%#v %+v", cfg.DKIM, *cfg.DKIM),
		"text": text.String(),
		"json": js.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, password) || strings.Contains(out, "TOPSECRETKEYMATERIAL") {
			t.Errorf("%s prints a secret: %s", name, out)
		}
		if !strings.Contains(out, secret) {
			t.Errorf("%s does not say <secret>: %s", name, out)
		}
	}
	var logged struct {
		SMTP struct {
			Password string `json:"password"`
			Host     string `json:"host"`
		} `json:"smtp"`
	}
	if err := json.Unmarshal(js.Bytes(), &logged); err != nil || logged.SMTP.Password != secret || logged.SMTP.Host != "smtp.example.com" {
		t.Errorf("JSON log %s: password %q host %q (%v)", js.String(), logged.SMTP.Password, logged.SMTP.Host, err)
	}
	if got := (Config{}).String(); strings.Contains(got, secret) {
		t.Errorf("an empty password prints as %s", got)
	}
	cfg.DKIM = nil
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out := fmt.Sprintf("%v %+v %s", s, s, s); strings.Contains(out, password) {
		t.Errorf("the Sender prints the password: %s", out)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	from := mail.Address{Name: "Tidings", Address: "news@shop.example"}
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no host", Config{From: from}, "email: host is required"},
		{"host with port", Config{Host: "smtp.example.com:587", From: from},
			`email: host "smtp.example.com:587": want a host name or an IP address, without a port`},
		{"bad tls", Config{Host: "h", TLS: "ssl", From: from}, `email: tls "ssl": want "starttls", "tls" or "none"`},
		{"bad port", Config{Host: "h", Port: 70000, From: from}, "email: port 70000 out of range"},
		{"no from", Config{Host: "h"}, "email: from address is required"},
		{"bad from", Config{Host: "h", From: mail.Address{Address: "Tidings <news@shop.example>"}},
			`email: from: address "Tidings <news@shop.example>": want a plain address such as name@example.com`},
		{"from name with a line break", Config{Host: "h", From: mail.Address{Name: "Tidings\r\nBcc: x@y", Address: "news@shop.example"}},
			`email: from name "Tidings\r\nBcc: x@y" contains control characters`},
		{"bad reply-to", Config{Host: "h", From: from, ReplyTo: "care"}, `email: reply-to "care": mail: missing '@' or angle-addr`},
		{"password without username", Config{Host: "h", From: from, Password: "p"}, "email: password set without a username"},
		{"password in clear", Config{Host: "smtp.example.com", TLS: NoTLS, From: from, Username: "u", Password: "p"},
			`email: tls "none" would send the password to smtp.example.com in clear text: use "starttls" or "tls"`},
		{"negative timeout", Config{Host: "h", From: from, Timeout: -time.Second}, "email: timeout -1s is negative"},
		{"negative max per connection", Config{Host: "h", From: from, MaxPerConnection: -1}, "email: max per connection -1 is negative"},
		{"negative max connections", Config{Host: "h", From: from, MaxConnections: -1}, "email: max connections -1 is negative"},
		{"bad hello name", Config{Host: "h", From: from, HelloName: "a b"}, `email: hello name "a b" contains spaces or control characters`},
		{"dkim without selector", Config{Host: "h", From: from, DKIM: &DKIM{Domain: "shop.example", PrivateKeyPEM: []byte("x")}},
			"email: dkim selector is required"},
		{"dkim bad key", Config{Host: "h", From: from, DKIM: &DKIM{Domain: "shop.example", Selector: "s", PrivateKeyPEM: []byte("x")}},
			"email: dkim private key: no valid PEM data found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, nil)
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("New: %v, want %s", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "\r\n") {
				t.Errorf("error %q has a raw line break", err)
			}
		})
	}
	for _, tc := range []struct {
		tls  TLSMode
		port int
	}{{"", 587}, {StartTLS, 587}, {ImplicitTLS, 465}, {NoTLS, 25}} {
		s, err := New(Config{Host: "localhost", TLS: tc.tls, From: from}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.cfg.Port != tc.port || s.cfg.Timeout != DefaultTimeout || s.cfg.MaxPerConnection != DefaultMaxPerConnection ||
			s.cfg.MaxConnections != DefaultMaxConnections || s.cfg.HelloName == "" || s.cfg.TLS == "" {
			t.Errorf("tls %q: defaults %v", tc.tls, s.cfg)
		}
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	b := setup(t, serverConfig{}, nil)
	if _, err := b.sender.Send(t.Context(), message("d-1", "x@example.com")); err != nil {
		t.Fatal(err)
	}
	if err := b.sender.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.sender.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := b.sender.Send(t.Context(), message("d-2", "x@example.com"))
	wantError(t, err, "retryable", channels.ReasonUnavailable)
	if !errors.Is(err, errClosed) {
		t.Errorf("error %q, want %q", err, errClosed)
	}
}

func TestMessageIDLocal(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"spring-sale:2027-03-01:42:email": "spring-sale_2027-03-01_42_email",
		"a.b":                             "a.b",
		".a..b.":                          "_a._b_",
		"客户 7":                            "___7",
		"<x@y>":                           "_x_y_",
	} {
		if got := messageIDLocal(in); got != want {
			t.Errorf("messageIDLocal(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("x", 300)
	if got := messageIDLocal(long); len(got) > 128 || got == messageIDLocal(long+"y") {
		t.Errorf("a long id maps to %q", got)
	}
}

// FuzzHeaderInjection feeds header-like text to every customer-controlled
// header value and checks that the server receives exactly the expected
// headers, each once, with From, To and Subject meaning what they said.
func FuzzHeaderInjection(f *testing.F) {
	for _, seed := range [][4]string{ // name, subject, unsubscribe token, to
		{"王芳", "生日快乐！送您¥50礼券", "abc123", "wangfang@example.com"},
		{"Eve\r\nBcc: evil@x", "Hi\r\nBcc: evil@x", "x\r\nBcc: evil@x", "victim@example.com\r\nBcc: evil@x"},
		{"\r\n\r\n", "Subject: x", "x>, <mailto:evil@x>", "evil@x\nSubject: x"},
		{"Subject: x\nX-Evil: 1", "\n\nbody injected", "\r\nList-Unsubscribe: <https://evil.example>", "Li Lei <lilei@example.com>"},
		{`"Eve" <evil@x>`, "=?utf-8?q?Bcc:_evil@x?=", "%0D%0ABcc:%20evil@x", "<a@example.com>"},
		{"", "", "", ""},
		{"Li\tLei\x00\x7f", "\xff\xfe not UTF-8", "\xff%zz%\r\n41#frag", "a@example.com, evil@x"},
		{"a, b <c@d>", strings.Repeat("long subject ", 20), "a b\"c<d>e{f}g|h\\i^j`k", "ok.name+tag@example.com"},
		{"\u2028line separator\u0085next line", "Bcc:\u2028evil@x", "é", "用户@例子.中国"},
		{"x\rBcc: evil@x", "\rSubject: x", "\r", "a@example.com\r"},
		{"=?utf-8?b?RXZl?=", "Subject:\r\n Bcc: folded@x", "?a=1&b=2;c", " spaced@example.com\t"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	b := setup(f, serverConfig{}, nil)
	var seq atomic.Int64
	f.Fuzz(func(t *testing.T, name, subject, token, to string) {
		if len(name) > 300 || len(subject) > 300 || len(token) > 200 || len(to) > 300 {
			t.Skip("only makes longer headers")
		}
		m := channels.Message{
			DeliveryID: fmt.Sprintf("fuzz-%d", seq.Add(1)), Channel: channels.Email,
			To: "rcpt@example.com", ToName: name, Subject: subject,
			Text: "text", HTML: "<p>html</p>", UnsubscribeURL: "https://shop.example/u?t=" + token,
		}
		before := len(b.server.messages())
		if _, err := b.sender.Send(t.Context(), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
		checkReceived(t, b, m, "rcpt@example.com", before)

		// The fuzzed address: refused cleanly, or delivered to exactly it.
		m.DeliveryID += "-to"
		m.To = to
		before = len(b.server.messages())
		rcpts := b.server.totalRcpts()
		_, err := b.sender.Send(t.Context(), m)
		if err == nil {
			checkReceived(t, b, m, strings.Trim(to, " \t"), before)
			return
		}
		var ce *channels.Error
		if !errors.As(err, &ce) || ce.Retryable || ce.Ambiguous {
			t.Fatalf("To %q: %v, want a permanent refusal", to, err)
		}
		if ce.Reason == channels.ReasonInvalidAddress && b.server.totalRcpts() != rcpts {
			t.Fatalf("To %q: refused as invalid after RCPT TO", to)
		}
		if strings.ContainsAny(to, "\r\n") && ce.Reason != channels.ReasonInvalidAddress {
			t.Fatalf("To %q with a line break: %v, want invalid_address", to, err)
		}
		if len(b.server.messages()) != before {
			t.Fatalf("To %q: refused, yet delivered", to)
		}
	})
}

var unsubscribeHeader = regexp.MustCompile(`^<(https://shop\.example/u\?t=[^\s<>",]*)>, <mailto:unsubscribe@shop\.example\?subject=unsubscribe-(fuzz-\d+(?:-to)?)>$`)

// checkReceived checks the one message received since before.
func checkReceived(t *testing.T, b *testBundle, m channels.Message, to string, before int) {
	t.Helper()
	msgs := b.server.messages()
	if len(msgs) != before+1 {
		t.Fatalf("server has %d new messages, want 1", len(msgs)-before)
	}
	got := msgs[len(msgs)-1]
	if got.From != "news@shop.example" || !slices.Equal(got.To, []string{to}) {
		t.Fatalf("envelope from %q to %q, want to %q", got.From, got.To, to)
	}
	for i, line := range strings.Split(string(got.Data), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line %d is %d bytes long, more than RFC 5322 allows", i+1, len(line))
		}
	}
	msg := parse(t, got.Data)
	h := msg.Header
	wantKeys := []string{"Content-Type", "Date", "From", "List-Unsubscribe", "List-Unsubscribe-Post",
		"Message-Id", "Mime-Version", "Subject", "To"}
	if keys := headerKeys(h); !slices.Equal(keys, wantKeys) {
		t.Fatalf("headers %q, want %q\n%s", keys, wantKeys, got.Data)
	}
	for k, v := range h {
		if len(v) != 1 {
			t.Fatalf("%d %s headers: %q", len(v), k, v)
		}
	}
	if from, err := mail.ParseAddress(h.Get("From")); err != nil || from.Name != "Tidings Shop" || from.Address != "news@shop.example" {
		t.Fatalf("From %q: %v %v", h.Get("From"), from, err)
	}
	toList, err := mail.ParseAddressList(h.Get("To"))
	if err != nil || len(toList) != 1 {
		t.Fatalf("To %q parses to %v (%v), want one address", h.Get("To"), toList, err)
	}
	if name, addr := clientAddress(t, h.Get("To")); addr != to || name != words(m.ToName) {
		t.Fatalf("To %q is shown as %q <%s>, want %q <%s>", h.Get("To"), name, addr, words(m.ToName), to)
	}
	// As a client shows it: decoded, even when the subject was ASCII.
	if subject := clientText(t, h.Get("Subject")); words(subject) != words(m.Subject) {
		t.Fatalf("Subject %q is shown as %q, want %q", h.Get("Subject"), words(subject), words(m.Subject))
	}
	if want := "<" + m.DeliveryID + "@shop.example>"; h.Get("Message-Id") != want {
		t.Fatalf("Message-Id %q, want %q", h.Get("Message-Id"), want)
	}
	lu := unsubscribeHeader.FindStringSubmatch(h.Get("List-Unsubscribe"))
	if lu == nil || lu[2] != m.DeliveryID {
		t.Fatalf("List-Unsubscribe %q", h.Get("List-Unsubscribe"))
	}
	u, err := url.Parse(lu[1])
	if err != nil || u.Host != "shop.example" || u.Path != "/u" {
		t.Fatalf("unsubscribe URL %q: %v", lu[1], err)
	}
	wantToken := strings.NewReplacer("\r", "", "\n", "").Replace(strings.TrimPrefix(m.UnsubscribeURL, "https://shop.example/u?t="))
	if got := pctDecode(strings.TrimPrefix(lu[1], "https://shop.example/u?t=")); got != pctDecode(wantToken) {
		t.Fatalf("unsubscribe token %q, want %q", got, pctDecode(wantToken))
	}
	if h.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Fatalf("List-Unsubscribe-Post %q", h.Get("List-Unsubscribe-Post"))
	}
	if mediaType, ps := parts(t, msg); mediaType != "multipart/alternative" || len(ps) != 2 || ps[0].body != "text" || ps[1].body != "<p>html</p>" {
		t.Fatalf("body %s %+v", mediaType, ps)
	}
}

// words is s as a reader sees it: valid UTF-8, controls as spaces, runs of
// spaces as one.
func words(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return strings.Join(strings.Fields(s), " ")
}

// pctDecode decodes %XX escapes and leaves anything else as it is.
func pctDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			var c byte
			fmt.Sscanf(s[i+1:i+3], "%02x", &c)
			b.WriteByte(c)
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

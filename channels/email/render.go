package email

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"

	"github.com/tidings/tidings/channels"
)

// DKIM covers these; a listed header the message lacks is signed as absent,
// so it cannot be added later. RFC 8058 requires the List-Unsubscribe pair.
var dkimHeaders = []string{
	"From", "Reply-To", "To", "Subject", "Date", "Message-ID",
	"MIME-Version", "Content-Type", "List-Unsubscribe", "List-Unsubscribe-Post",
}

// rendered is a message ready for DATA.
type rendered struct {
	to    string // the envelope recipient
	msgID string
	data  []byte
}

// render builds the message. Its errors are permanent: the same message
// would fail the same way again.
func (s *Sender) render(m channels.Message) (rendered, error) {
	if m.Channel != "" && m.Channel != channels.Email {
		return rendered{}, channels.Permanent(channels.ReasonInternal, fmt.Errorf("email: message for channel %q", m.Channel))
	}
	to, err := bareAddress(m.To)
	if err != nil {
		return rendered{}, channels.Permanent(channels.ReasonInvalidAddress, fmt.Errorf("email: recipient: %w", err))
	}
	local := messageIDLocal(m.DeliveryID)
	if local == "" {
		return rendered{}, channels.Permanent(channels.ReasonInternal, errors.New("email: message has no delivery id"))
	}
	if m.Text == "" && m.HTML == "" {
		return rendered{}, channels.Permanent(channels.ReasonInternal, fmt.Errorf("email: message %s has no body", m.DeliveryID))
	}

	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent(), gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingQP))
	SetAddress(msg, gomail.HeaderFrom, s.cfg.From)
	SetAddress(msg, gomail.HeaderTo, mail.Address{Name: m.ToName, Address: to})
	if s.replyTo != nil {
		SetAddress(msg, gomail.HeaderReplyTo, *s.replyTo)
	}
	SetSubject(msg, m.Subject)
	msg.SetDateWithValue(time.Now())
	msg.SetMessageIDWithValue(local + "@" + s.fromDomain)
	if m.UnsubscribeURL != "" {
		u, err := oneClickURL(m.UnsubscribeURL)
		if err != nil {
			return rendered{}, channels.Permanent(channels.ReasonInternal, err)
		}
		// Preformatted, so go-mail writes exactly these checked bytes.
		mailto := "mailto:unsubscribe@" + s.fromDomain + "?subject=unsubscribe-" + local
		sep := ", "
		if len("List-Unsubscribe: <"+u+">, <"+mailto+">") > 998 { // RFC 5322's line limit
			sep = ",\r\n "
		}
		msg.SetGenHeaderPreformatted(gomail.HeaderListUnsubscribe, "<"+u+">"+sep+"<"+mailto+">")
		msg.SetGenHeaderPreformatted(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}
	switch {
	case m.Text != "" && m.HTML != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	case m.Text != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	default:
		msg.SetBodyString(gomail.TypeTextHTML, m.HTML)
	}
	if s.dkimKey != nil {
		// A signer per message: go-mail's Signer is not safe for
		// concurrent use.
		signer := gomail.NewDKIMSigner(s.cfg.DKIM.Domain, s.cfg.DKIM.Selector, s.dkimKey)
		signer.SignHeaders(dkimHeaders...)
		msg.SetDKIM(signer)
	}
	var buf bytes.Buffer
	// Quoted-printable adds a few percent; the headers about a kilobyte.
	buf.Grow(len(m.Text) + len(m.HTML) + (len(m.Text)+len(m.HTML))/8 + 2048)
	if _, err := msg.WriteTo(&buf); err != nil {
		return rendered{}, channels.Permanent(channels.ReasonInternal, fmt.Errorf("email: render message %s: %w", m.DeliveryID, err))
	}
	data := buf.Bytes()
	if s.dkimKey != nil {
		data = refoldDKIM(data)
	}
	return rendered{to: to, msgID: "<" + local + "@" + s.fromDomain + ">", data: data}, nil
}

// refoldDKIM rewrites the DKIM-Signature field go-mail puts first with
// folds only between tags. go-mail v0.8.1 hard-wraps any tag longer than a
// line (h= with our header list) yet signs the unwrapped text; relaxed
// canonicalization keeps the space of a fold, so a verifier would read
// "List-U nsubscribe" and fail. A fold after "; " canonicalizes away.
func refoldDKIM(data []byte) []byte {
	if !bytes.HasPrefix(data, []byte("DKIM-Signature:")) {
		return data
	}
	end := 0 // just past the field's final CRLF
	for {
		i := bytes.Index(data[end:], []byte("\r\n"))
		if i < 0 {
			return data
		}
		end += i + 2
		if end == len(data) || data[end] != ' ' && data[end] != '\t' {
			break
		}
	}
	field := unfold.Replace(string(data[:end-2]))
	field = strings.ReplaceAll(field, "; ", ";\r\n ")
	return append([]byte(field+"\r\n"), data[end:]...)
}

// bareAddress accepts a plain addr-spec (surrounding spaces aside):
// no display name, comment, angle brackets, quoting or line break.
func bareAddress(addr string) (string, error) {
	if strings.ContainsAny(addr, "\r\n") {
		return "", fmt.Errorf("address %q contains a line break", addr)
	}
	a := strings.Trim(addr, " \t")
	if a == "" {
		return "", errors.New("address is empty")
	}
	if strings.ContainsFunc(a, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`"<>()[],;:\`, r)
	}) || !utf8.ValidString(a) {
		return "", fmt.Errorf("address %q: want a plain address such as name@example.com", addr)
	}
	p, err := mail.ParseAddress(a)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", addr, err)
	}
	if p.Name != "" || p.Address != a {
		return "", fmt.Errorf("address %q: want a plain address such as name@example.com", addr)
	}
	return a, nil
}

// messageIDLocal maps a delivery id onto the left of a Message-ID: letters,
// digits, "_", "-" and single inner dots (a dot-atom); anything else becomes
// "_". A long id is shortened with a hash of the whole.
func messageIDLocal(id string) string {
	var b strings.Builder
	for _, r := range id {
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'):
			b.WriteRune(r)
		case r == '.' && b.Len() > 0 && !strings.HasSuffix(b.String(), "."):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	local := b.String()
	if strings.HasSuffix(local, ".") {
		local = local[:len(local)-1] + "_"
	}
	if len(local) > 128 {
		sum := sha256.Sum256([]byte(id))
		local = local[:96] + "-" + hex.EncodeToString(sum[:12])
	}
	return local
}

const maxUnsubscribeURL = 900

// Replacers are built on first use, a few kilobytes each: once per
// process, not per message.
var (
	unfold     = strings.NewReplacer("\r\n ", "", "\r\n\t", "")
	lineBreaks = strings.NewReplacer("\r", "", "\n", "")
)

// oneClickURL checks an unsubscribe URL and percent-encodes what could
// break out of its angle brackets or the header: line breaks are dropped;
// spaces, controls, non-ASCII bytes, quotes, angle brackets, commas and a
// stray "%" are escaped.
func oneClickURL(raw string) (string, error) {
	in := lineBreaks.Replace(raw)
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == '%' && i+2 < len(in) && isHex(in[i+1]) && isHex(in[i+2]):
			b.WriteByte(c)
		case c <= ' ' || c >= 0x7f || strings.IndexByte("\"%<>\\^`{|},", c) >= 0:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	s := b.String()
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("email: unsubscribe URL %q: %w", raw, err)
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", fmt.Errorf("email: unsubscribe URL %q: want https://host/…", raw)
	}
	if len(s) > maxUnsubscribeURL {
		return "", fmt.Errorf("email: unsubscribe URL is %d bytes long, more than %d", len(s), maxUnsubscribeURL)
	}
	return s, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

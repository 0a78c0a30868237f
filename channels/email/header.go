package email

import (
	"encoding/base64"
	"mime"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"
)

// SetAddress sets the address header h of msg to a, its name made one
// line of valid UTF-8 (see SetSubject). A name that has "=?" is B-encoded
// whole, so that a mail client shows those characters and never decodes
// them as an encoded word of their own: a customer named
// "=?UTF-8?B?RXZpbA0KQmNjOiB4QHkuY29t?=" is shown as that, not as
// "Evil", a line break and "Bcc: x@y.com". Quoting the name would not do:
// RFC 2047 §5 says an encoded word inside a quoted string is not one, but
// Thunderbird, Outlook and Gmail decode it anyway. So is a non-ASCII name
// with a "\": net/mail Q-encodes it but leaves the "\" raw, which RFC 2047
// forbids in a phrase, and the header would no longer parse. Any other name
// is formatted by net/mail and folded by go-mail.
//
// The bench's ceiling builds its messages with SetAddress and SetSubject
// too, so it carries the header bytes the channel sends.
func SetAddress(msg *gomail.Msg, h gomail.AddrHeader, a mail.Address) {
	a.Name = headerText(a.Name)
	if !encodesItself(a.Name) {
		msg.SetAddrHeaderFromMailAddress(h, &a)
		return
	}
	msg.SetGenHeaderPreformatted(gomail.Header(h), encodedAddress(a))
}

// FormatAddress returns the value of an address header for a, encoded as
// SetAddress encodes it, for a message written without go-mail (the
// outbox's files).
func FormatAddress(a mail.Address) string {
	a.Name = headerText(a.Name)
	if !encodesItself(a.Name) {
		return a.String()
	}
	return encodedAddress(a)
}

// FormatSubject returns the value of a Subject header, encoded as
// SetSubject and go-mail encode it, for a message written without go-mail.
func FormatSubject(subject string) string {
	subject = headerText(subject)
	if hasEncodedWordStart(subject) {
		return strings.Join(encodedWords(subject), "\r\n ")
	}
	return mime.QEncoding.Encode("utf-8", subject)
}

// encodesItself reports whether a (one-line) name is B-encoded here rather
// than left to net/mail: see SetAddress.
func encodesItself(name string) bool {
	return hasEncodedWordStart(name) || !printableASCII(name) && strings.Contains(name, `\`)
}

func encodedAddress(a mail.Address) string {
	return strings.Join(encodedWords(a.Name), "\r\n ") + " " + (&mail.Address{Address: a.Address}).String()
}

// SetSubject sets the Subject of msg to subject on one line of valid UTF-8:
// runs of spaces, line breaks and other control characters become one
// space. go-mail Q-encodes non-ASCII text, but leaves ASCII as it is, so a
// subject that has "=?" (a customer's name rendered into it) is B-encoded
// whole here, for the reason SetAddress gives.
func SetSubject(msg *gomail.Msg, subject string) {
	subject = headerText(subject)
	if !hasEncodedWordStart(subject) {
		msg.Subject(subject)
		return
	}
	msg.SetGenHeaderPreformatted(gomail.HeaderSubject, strings.Join(encodedWords(subject), "\r\n "))
}

// hasEncodedWordStart reports whether s has the "=?" that starts an RFC 2047
// encoded word. A client looks for the rest ("charset?B?text?=") leniently,
// so the start alone is reason to encode.
func hasEncodedWordStart(s string) bool { return strings.Contains(s, "=?") }

// maxWordBytes is what one B-encoded word carries: 60 base64 characters,
// 75 with "=?utf-8?b?" and "?=", RFC 2047's limit for a word.
const maxWordBytes = 45

// encodedWords B-encodes all of s, unlike mime.WordEncoder, which returns
// ASCII text as it is. No word splits a character: RFC 2047 §5 wants each
// word to decode on its own.
func encodedWords(s string) []string {
	var words []string
	for s != "" {
		n := min(len(s), maxWordBytes)
		for n < len(s) && n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		if n == 0 { // not UTF-8; headerText has made it so
			n = min(len(s), maxWordBytes)
		}
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return words
}

// headerText makes s safe and tidy for a header: valid UTF-8, and runs of
// spaces, line breaks and other control characters reduced to one space.
func headerText(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToValidUTF8(s, "\uFFFD"), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
}

package email

import (
	"context"
	"errors"
	"fmt"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail/smtp"

	"github.com/tidings/tidings/channels"
)

// ReasonNoSuchUser means the server said the recipient's mailbox does not
// exist. The pipeline suppresses the address.
const ReasonNoSuchUser = channels.ReasonNoSuchUser

// stage is how far a transaction got.
type stage int

const (
	stageMail    stage = iota // MAIL FROM
	stageRcpt                 // RCPT TO
	stageData                 // the DATA command
	stagePayload              // writing the message: the server cannot take it yet
	stageFinal                // the message is sent; waiting for the final reply
)

// result is the outcome of one transaction.
type result struct {
	stage stage
	reply string // the final reply, on success
	err   error
	local bool // err is our refusal, not the server's or the network's
	from  string
	to    string
}

// code is the server's reply code, or 0 when there was no reply (the
// connection failed, timed out or was closed under us).
func (r result) code() int {
	var tp *textproto.Error
	if errors.As(r.err, &tp) {
		return tp.Code
	}
	return 0
}

func (r result) connectionLost() bool { return !r.local && (r.code() == 0 || r.code() == 421) }

func (r result) command() string {
	switch r.stage {
	case stageMail:
		return "MAIL FROM:<" + r.from + ">"
	case stageRcpt:
		return "RCPT TO:<" + r.to + ">"
	case stageData:
		return "DATA"
	case stagePayload:
		return "DATA (sending the message)"
	default:
		return "DATA (final reply)"
	}
}

// deliver runs one transaction. Closing tcp when ctx ends unblocks
// whatever step is waiting.
func (c *conn) deliver(ctx context.Context, timeout time.Duration, from, to string, data []byte) (res result) {
	res.from, res.to = from, to
	c.sent++
	stop := context.AfterFunc(ctx, func() { _ = c.tcp.Close() })
	defer func() {
		if !stop() {
			c.broken = true
		}
	}()
	step := func(st stage) {
		res.stage = st
		_ = c.sc.UpdateDeadline(timeout)
	}
	step(stageMail)
	if !isASCII(from) || !isASCII(to) {
		if ok, _ := c.sc.Extension("SMTPUTF8"); !ok {
			res.err, res.local = errNoSMTPUTF8, true
			return res
		}
	}
	if res.err = c.sc.Mail(from); res.err != nil {
		return res
	}
	step(stageRcpt)
	if res.err = c.sc.Rcpt(to); res.err != nil {
		return res
	}
	step(stageData)
	w, err := c.sc.Data()
	if err != nil {
		res.err = err
		return res
	}
	step(stagePayload)
	if _, res.err = w.Write(data); res.err != nil {
		return res
	}
	// Close writes the final "." and waits for the reply: from here on the
	// server may have the message.
	step(stageFinal)
	if res.err = w.Close(); res.err != nil {
		return res
	}
	if dc, ok := w.(*smtp.DataCloser); ok {
		res.reply = dc.ServerResponse()
	}
	return res
}

// reply is a server's reply as the server wrote it: textproto.Error quotes
// the text.
type reply struct{ tp *textproto.Error }

func (r *reply) Error() string {
	return fmt.Sprintf("%d %s", r.tp.Code, strings.Join(strings.Fields(r.tp.Msg), " "))
}
func (r *reply) Unwrap() error { return r.tp }

func readable(err error) error {
	if tp, ok := err.(*textproto.Error); ok {
		return &reply{tp}
	}
	return err
}

// replyError is a negative reply from the server.
type replyError struct {
	command string
	code    int
	text    string // as the server sent it, enhanced status code first
}

func (e *replyError) Error() string {
	return fmt.Sprintf("smtp %s: %d %s", e.command, e.code, e.text)
}

var enhancedCode = regexp.MustCompile(`^([245])\.(\d{1,3})\.(\d{1,3})(?:\s|$)`)

// enhanced returns the RFC 3463 status code that starts the reply text, if
// it agrees with the reply code's class.
func enhanced(code int, text string) string {
	m := enhancedCode.FindStringSubmatch(text)
	if m == nil || m[1] != strconv.Itoa(code/100) {
		return ""
	}
	return m[1] + "." + m[2] + "." + m[3]
}

// classify turns a failed transaction into a channels.Error.
func (s *Sender) classify(ctx context.Context, res result) *channels.Error {
	if res.local {
		return channels.Permanent(channels.ReasonRejected, fmt.Errorf("smtp %s: %w", res.command(), res.err))
	}
	var tp *textproto.Error
	if errors.As(res.err, &tp) && (tp.Code/100 == 4 || tp.Code/100 == 5) {
		text := strings.Join(strings.Fields(tp.Msg), " ")
		err := &replyError{command: res.command(), code: tp.Code, text: text}
		if tp.Code/100 == 4 {
			return channels.Retryable(channels.ReasonUnavailable, 0, err)
		}
		return channels.Permanent(permanentReason(res.stage, tp.Code, enhanced(tp.Code, text)), err)
	}
	// No reply, or one that makes no sense here.
	err := res.err
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), res.err)
	}
	if res.stage == stageFinal {
		return channels.Ambiguous(fmt.Errorf("smtp %s: message sent, no reply: %w", res.command(), err))
	}
	return channels.Retryable(channels.ReasonUnavailable, 0, fmt.Errorf("smtp %s: %w", res.command(), err))
}

// permanentReason reads a 5xx reply.
func permanentReason(st stage, code int, enh string) channels.Reason {
	switch {
	case code == 530 || code == 534 || code == 535 || code == 538:
		return channels.ReasonAuth
	case st != stageRcpt && st != stageFinal:
		return channels.ReasonRejected
	case enh == "5.1.0" || enh == "5.1.1" || enh == "5.1.2" || enh == "5.1.10":
		return ReasonNoSuchUser
	case enh == "5.1.3" && st == stageRcpt:
		return channels.ReasonInvalidAddress
	case enh == "" && st == stageRcpt && (code == 550 || code == 551 || code == 553):
		// Without an enhanced code a 550 to RCPT TO is, by RFC 5321,
		// "mailbox unavailable".
		return ReasonNoSuchUser
	default:
		return channels.ReasonRejected
	}
}

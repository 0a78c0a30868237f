package main

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/channels/email"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/internal/signing"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/templates"
)

// ceilingMessage returns a builder of the bench email to cust, rendered from
// the campaign's templates as the pipeline renders it and put together with
// the headers and encoding of the email channel (channels/email), so that
// the ceiling carries the bytes the pipeline does. Each call builds a new
// message: a go-mail Msg is not for concurrent use.
func (a *app) ceilingMessage(cfg *campaigns.Config, tmpl *templates.Set, c *campaigns.Campaign, occurrence string, cust customer.Customer) (func() (*gomail.Msg, error), error) {
	secret, _ := a.secret()
	p := &delivery.Pipeline{Config: func() *campaigns.Config { return cfg }, Signer: signing.New(secret)}
	data := p.TemplateData(c, occurrence, cust, channels.Email, time.Now())
	m, err := tmpl.Render(c.Template, channels.Email, cust.Locale, data)
	if err != nil {
		return nil, fmt.Errorf("render the ceiling's message: %w", err)
	}
	from, err := mail.ParseAddress(cfg.Settings.EmailFrom)
	if err != nil {
		return nil, fmt.Errorf("email_from: %w", err)
	}
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	id := store.DeliveryKey{Campaign: c.Name, Occurrence: occurrence, CustomerID: cust.ID, Channel: channels.Email}.ID()
	local := strings.Map(func(r rune) rune {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return r
		}
		return '_'
	}, id)
	return func() (*gomail.Msg, error) {
		msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent(), gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingQP))
		email.SetAddress(msg, gomail.HeaderFrom, *from)
		email.SetAddress(msg, gomail.HeaderTo, mail.Address{Name: cust.Name, Address: cust.Email})
		email.SetSubject(msg, m.Subject)
		msg.SetDateWithValue(time.Now())
		msg.SetMessageIDWithValue(local + "@" + domain)
		msg.SetGenHeaderPreformatted(gomail.HeaderListUnsubscribe, "<"+data.UnsubscribeURL+">, <mailto:unsubscribe@"+domain+"?subject=unsubscribe-"+local+">")
		msg.SetGenHeaderPreformatted(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		if m.HTML != "" {
			msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
		}
		return msg, nil
	}, nil
}

// messageSize is the size of msg's DATA.
func messageSize(msg *gomail.Msg) (int64, error) {
	var buf bytes.Buffer
	return msg.WriteTo(&buf)
}

// ceiling sends total messages over conns go-mail clients at once, each
// one persistent connection that sends its share back to back: what the
// SMTP client library alone achieves against the server, with nothing of
// the pipeline around it. Without NOOP and RSET, its conversation is the
// email channel's: MAIL, RCPT, DATA per message. It returns the time from
// the first dial to the last reply.
func ceiling(ctx context.Context, host string, port, conns, total int, build func() (*gomail.Msg, error)) (time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	start := time.Now()
	for i := range conns {
		share := total / conns
		if i < total%conns {
			share++
		}
		wg.Go(func() {
			if err := ceilingConn(ctx, host, port, share, build); err != nil {
				errs <- err
				cancel()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, fmt.Errorf("ceiling: %w", err)
	}
	return elapsed, nil
}

func ceilingConn(ctx context.Context, host string, port, n int, build func() (*gomail.Msg, error)) error {
	if n == 0 {
		return nil
	}
	msg, err := build()
	if err != nil {
		return err
	}
	c, err := gomail.NewClient(host, gomail.WithPort(port), gomail.WithTLSPolicy(gomail.NoTLS),
		gomail.WithoutNoop(), gomail.WithoutRset(), gomail.WithTimeout(30*time.Second))
	if err != nil {
		return err
	}
	if err := c.DialWithContext(ctx); err != nil {
		return err
	}
	defer c.Close()
	for range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.Send(msg); err != nil {
			return err
		}
	}
	return nil
}

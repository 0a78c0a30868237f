package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/wneessen/go-mail/smtp"

	"github.com/tidings/tidings/channels"
)

// conn is one SMTP connection, used by one Send at a time.
type conn struct {
	sc        *smtp.Client
	tcp       net.Conn // under any TLS layer: closing it aborts whatever is blocked
	sent      int      // transactions started
	broken    bool     // closed under us (context cancelled)
	idleSince time.Time
}

// get returns an idle connection, unless fresh, or a new one.
func (s *Sender) get(ctx context.Context, fresh bool) (c *conn, reused bool, err error) {
	var stale []*conn
	s.mu.Lock()
	for n := len(s.idle); n > 0 && !fresh && c == nil; n-- {
		c = s.idle[n-1]
		s.idle = s.idle[:n-1]
		if time.Since(c.idleSince) >= s.maxIdle {
			stale, c = append(stale, c), nil
		}
	}
	s.mu.Unlock()
	for _, sc := range stale {
		_ = sc.tcp.Close()
	}
	if c != nil {
		return c, true, nil
	}
	c, err = s.dial(ctx)
	return c, false, err
}

// put returns a healthy connection to the pool, unless it has carried its
// share of messages or the Sender is closing.
func (s *Sender) put(c *conn, discard bool) {
	if c.broken || discard {
		_ = c.tcp.Close()
		return
	}
	closing := false
	select {
	case <-s.done:
		closing = true
	default:
	}
	if closing || c.sent >= s.cfg.MaxPerConnection {
		if err := c.quit(s.cfg.Timeout); err != nil {
			s.log.Debug("smtp quit", "server", s.addr, "error", err)
		}
		return
	}
	c.idleSince = time.Now()
	s.mu.Lock()
	s.idle = append(s.idle, c)
	s.mu.Unlock()
}

// settle keeps a connection after a refused transaction if the server is
// still talking to us, and drops it otherwise.
func (s *Sender) settle(c *conn, res result) {
	if res.local {
		s.put(c, false)
		return
	}
	if res.code() == 0 || res.code() == 421 || c.broken {
		s.put(c, true)
		return
	}
	// The server refused politely; RSET so the next transaction starts
	// clean (after MAIL or RCPT, or a refused DATA, one is in progress).
	_ = c.sc.UpdateDeadline(s.cfg.Timeout)
	if err := c.sc.Reset(); err != nil {
		s.put(c, true)
		return
	}
	s.put(c, false)
}

func (c *conn) quit(timeout time.Duration) error {
	_ = c.sc.UpdateDeadline(timeout)
	if err := c.sc.Quit(); err != nil {
		_ = c.tcp.Close()
		return fmt.Errorf("smtp QUIT: %w", err)
	}
	return nil
}

var (
	errNoStartTLS      = errors.New("server does not offer STARTTLS")
	errNoAuth          = errors.New("server does not offer AUTH")
	errNoAuthMechanism = errors.New("no supported AUTH mechanism (want PLAIN, LOGIN or SCRAM-SHA-256)")
	errNoSMTPUTF8      = errors.New("server does not offer SMTPUTF8, needed for a non-ASCII address")
)

// dial connects, says EHLO, secures the connection and authenticates.
func (s *Sender) dial(ctx context.Context) (*conn, error) {
	d := net.Dialer{Timeout: s.cfg.Timeout}
	tcp, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, channels.Retryable(channels.ReasonUnavailable, 0, fmt.Errorf("smtp connect %s: %w", s.addr, err))
	}
	stop := context.AfterFunc(ctx, func() { _ = tcp.Close() })
	sc, step, err := s.handshake(tcp)
	if !stop() {
		_ = tcp.Close()
		return nil, channels.Retryable(channels.ReasonUnavailable, 0, fmt.Errorf("smtp %s %s: %w", step, s.addr, ctx.Err()))
	}
	if err != nil {
		_ = tcp.Close()
		err = fmt.Errorf("smtp %s %s: %w", step, s.addr, err)
		var tp *textproto.Error
		isReply := errors.As(err, &tp)
		if step == "AUTH" && (isReply && tp.Code/100 == 5 ||
			errors.Is(err, errNoAuth) || errors.Is(err, errNoAuthMechanism) ||
			errors.Is(err, smtp.ErrUnencrypted) || errors.Is(err, smtp.ErrWrongHostname)) {
			return nil, channels.Permanent(channels.ReasonAuth, err)
		}
		return nil, channels.Retryable(channels.ReasonUnavailable, 0, err)
	}
	s.log.Debug("smtp connected", "server", s.addr, "tls", s.cfg.TLS)
	return &conn{sc: sc, tcp: tcp}, nil
}

// handshake runs the conversation up to the first transaction, and on
// failure names the step that failed.
func (s *Sender) handshake(tcp net.Conn) (*smtp.Client, string, error) {
	deadline := func() { _ = tcp.SetDeadline(time.Now().Add(s.cfg.Timeout)) }
	deadline()
	var nc net.Conn = tcp
	if s.cfg.TLS == ImplicitTLS {
		tc := tls.Client(tcp, s.tlsConfig)
		if err := tc.Handshake(); err != nil {
			return nil, "TLS handshake", err
		}
		nc = tc // smtp.Client recognises a *tls.Conn as encrypted
	}
	deadline()
	sc, err := smtp.NewClient(nc, s.cfg.Host)
	if err != nil {
		return nil, "greeting", readable(err)
	}
	deadline()
	if err := sc.Hello(s.cfg.HelloName); err != nil {
		return nil, "EHLO", err
	}
	if s.cfg.TLS == StartTLS {
		if ok, _ := sc.Extension("STARTTLS"); !ok {
			return nil, "STARTTLS", errNoStartTLS
		}
		deadline()
		if err := sc.StartTLS(s.tlsConfig); err != nil {
			return nil, "STARTTLS", readable(err)
		}
	}
	if s.cfg.Username != "" {
		deadline()
		if err := s.auth(sc); err != nil {
			return nil, "AUTH", err
		}
	}
	return sc, "", nil
}

func (s *Sender) auth(sc *smtp.Client) error {
	ok, mechs := sc.Extension("AUTH")
	if !ok {
		return errNoAuth
	}
	offered := strings.Fields(strings.ToUpper(mechs))
	var a smtp.Auth
	var mech string
	switch {
	case slices.Contains(offered, "PLAIN"):
		a, mech = smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host, false), "PLAIN"
	case slices.Contains(offered, "LOGIN"):
		a, mech = smtp.LoginAuth(s.cfg.Username, s.cfg.Password, s.cfg.Host, false), "LOGIN"
	case slices.Contains(offered, "SCRAM-SHA-256"):
		a, mech = smtp.ScramSHA256Auth(s.cfg.Username, s.cfg.Password), "SCRAM-SHA-256"
	default:
		return fmt.Errorf("%w: server offers %s", errNoAuthMechanism, mechs)
	}
	if err := sc.Auth(a); err != nil {
		return fmt.Errorf("%s as %q: %w", mech, s.cfg.Username, readable(err))
	}
	return nil
}

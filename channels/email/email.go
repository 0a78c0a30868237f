package email

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/tidings/tidings/channels"
)

// Sender sends email over a small pool of SMTP connections. It is safe for
// concurrent use.
type Sender struct {
	cfg        Config
	log        *slog.Logger
	addr       string // host:port
	tlsConfig  *tls.Config
	replyTo    *mail.Address
	fromDomain string
	dkimKey    crypto.Signer

	// slots holds a token per Send in progress, so at most MaxConnections
	// connections are ever open: each Send uses one, idle ones wait in idle.
	slots     chan struct{}
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex
	idle    []*conn       // most recently used last
	maxIdle time.Duration // an older idle connection is closed, not used
}

// maxIdle is well under servers' idle timeouts (Postfix: 300 s) and under
// the 350 s after which cloud NAT gateways silently forget a connection,
// which would cost a whole Timeout to find out.
const maxIdle = time.Minute

var _ channels.Sender = (*Sender)(nil)

// New validates cfg, fills in its defaults and returns a Sender. It does
// not connect: the first Send does.
func New(cfg Config, log *slog.Logger) (*Sender, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Sender{
		cfg:        cfg,
		log:        log,
		addr:       net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		fromDomain: cfg.From.Address[strings.LastIndexByte(cfg.From.Address, '@')+1:],
		tlsConfig: &tls.Config{
			ServerName:         cfg.Host,
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: cfg.InsecureSkipVerify,
		},
		slots:   make(chan struct{}, cfg.MaxConnections),
		done:    make(chan struct{}),
		maxIdle: maxIdle,
	}
	if cfg.ReplyTo != "" {
		s.replyTo, _ = mail.ParseAddress(cfg.ReplyTo) // validated by setDefaults
	}
	if d := cfg.DKIM; d != nil {
		key, err := gomail.PrivKeyFromPEM(d.PrivateKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("email: dkim private key: %w", err)
		}
		s.dkimKey = key
		if d.Domain != s.fromDomain && !strings.HasSuffix(s.fromDomain, "."+d.Domain) {
			// DMARC needs the signing domain aligned with the From domain.
			log.Warn("dkim domain is not aligned with the from address; DMARC will not pass on DKIM",
				"dkim_domain", d.Domain, "from_domain", s.fromDomain)
		}
	}
	return s, nil
}

// String identifies the Sender without its secrets.
func (s *Sender) String() string {
	return fmt.Sprintf("email.Sender{%s %s from %s}", s.addr, s.cfg.TLS, s.cfg.From.Address)
}

var errClosed = errors.New("email: sender closed")

// Send renders m and sends it. The provider id is the Message-ID header,
// angle brackets included. Every error is a *channels.Error.
func (s *Sender) Send(ctx context.Context, m channels.Message) (string, error) {
	r, err := s.render(m)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", channels.Retryable(channels.ReasonUnavailable, 0, fmt.Errorf("smtp: not sent: %w", err))
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return "", channels.Retryable(channels.ReasonUnavailable, 0, fmt.Errorf("smtp: waiting for a connection: %w", ctx.Err()))
	case <-s.done:
		return "", channels.Retryable(channels.ReasonUnavailable, 0, errClosed)
	}
	defer func() { <-s.slots }()
	select {
	case <-s.done:
		return "", channels.Retryable(channels.ReasonUnavailable, 0, errClosed)
	default:
	}

	fresh := false
	for {
		c, reused, err := s.get(ctx, fresh)
		if err != nil {
			return "", err
		}
		res := c.deliver(ctx, s.cfg.Timeout, s.cfg.From.Address, r.to, r.data)
		if res.err == nil {
			s.log.Debug("email sent", "delivery_id", m.DeliveryID, "message_id", r.msgID, "reply", res.reply)
			s.put(c, false)
			return r.msgID, nil
		}
		if reused && res.stage == stageMail && ctx.Err() == nil && (res.connectionLost() || res.code()/100 == 4) {
			// A reused connection the server has given up on: idle too long
			// (421, or no reply), or past the server's own messages per
			// connection (a 4xx to MAIL FROM: Exchange allows 20 by
			// default, whatever messages_per_connection says). Nothing of
			// the message was sent, so a new connection is no duplicate.
			s.put(c, true)
			s.log.Debug("smtp connection refused a new message, reconnecting", "server", s.addr, "error", res.err)
			fresh = true
			continue
		}
		s.settle(c, res)
		return "", s.classify(ctx, res)
	}
}

// Close waits for Sends in progress, then says QUIT on the idle
// connections. Send after Close returns a retryable error.
func (s *Sender) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		for range cap(s.slots) {
			s.slots <- struct{}{}
		}
		s.mu.Lock()
		idle := s.idle
		s.idle = nil
		s.mu.Unlock()
		var (
			wg   sync.WaitGroup
			emu  sync.Mutex
			errs []error
		)
		for _, c := range idle {
			wg.Go(func() {
				if err := c.quit(s.cfg.Timeout); err != nil {
					emu.Lock()
					errs = append(errs, err)
					emu.Unlock()
				}
			})
		}
		wg.Wait()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

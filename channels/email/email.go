package email

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/mail"
	"net/textproto"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/tidings/tidings/channels"
)

// ReasonNoSuchUser means the server said the recipient's mailbox does not
// exist. The pipeline suppresses the address.
const ReasonNoSuchUser = channels.ReasonNoSuchUser

// TLSMode is how the connection to the server is secured.
type TLSMode string

// TLS modes.
const (
	// StartTLS connects in plain text and requires STARTTLS before
	// anything else is sent (submission, port 587).
	StartTLS TLSMode = "starttls"
	// ImplicitTLS speaks TLS from the first byte (submissions, port 465).
	ImplicitTLS TLSMode = "tls"
	// NoTLS is plain text: only for local mail catchers and tests.
	NoTLS TLSMode = "none"
)

// Defaults for a zero Config field.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultMaxPerConnection = 100
	DefaultMaxConnections   = 4
)

// secret replaces secrets wherever a Config is printed or logged.
const secret = "<secret>"

// Config is the SMTP server and the sender identity.
type Config struct {
	Host string
	// Port defaults by TLS mode: 587 for starttls, 465 for tls, 25 for none.
	Port int
	// TLS defaults to starttls.
	TLS TLSMode
	// Username, when set, is used to authenticate with the first of PLAIN,
	// LOGIN and SCRAM-SHA-256 that the server offers.
	Username string
	// Password comes from the environment (TIDINGS_SMTP_PASSWORD). It is
	// printed and logged as "<secret>".
	Password string
	From     mail.Address
	// ReplyTo is an optional address, with or without a display name.
	ReplyTo string
	// Timeout bounds the connection and each step of the conversation.
	Timeout time.Duration
	// HelloName is the EHLO name; the host name by default.
	HelloName string
	// DKIM, when set, signs every message.
	DKIM *DKIM
	// InsecureSkipVerify accepts any server certificate: tests only.
	InsecureSkipVerify bool
	// MaxPerConnection is how many messages go over one connection
	// before it is closed and a new one opened.
	MaxPerConnection int
	// MaxConnections is how many connections may be open at once.
	MaxConnections int
}

// DKIM is a DomainKeys Identified Mail signing key, published in DNS at
// <Selector>._domainkey.<Domain>.
type DKIM struct {
	Domain   string
	Selector string
	// PrivateKeyPEM is an RSA (PKCS #1 or #8) or Ed25519 (PKCS #8) key.
	// It is printed and logged as "<secret>".
	PrivateKeyPEM []byte
}

func redact[T string | []byte](v T) string {
	if len(v) == 0 {
		return ""
	}
	return secret
}

// String prints the configuration with its secrets redacted.
func (c Config) String() string {
	return fmt.Sprintf("email.Config{Host:%s Port:%d TLS:%s Username:%s Password:%s From:%s ReplyTo:%s "+
		"Timeout:%s HelloName:%s DKIM:%v InsecureSkipVerify:%t MaxPerConnection:%d MaxConnections:%d}",
		c.Host, c.Port, c.TLS, c.Username, redact(c.Password), c.From.String(), c.ReplyTo,
		c.Timeout, c.HelloName, c.DKIM, c.InsecureSkipVerify, c.MaxPerConnection, c.MaxConnections)
}

// GoString makes %#v redact too.
func (c Config) GoString() string { return c.String() }

// LogValue logs the configuration with its secrets redacted.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("host", c.Host),
		slog.Int("port", c.Port),
		slog.String("tls", string(c.TLS)),
		slog.String("username", c.Username),
		slog.String("password", redact(c.Password)),
		slog.String("from", c.From.String()),
		slog.String("reply_to", c.ReplyTo),
		slog.Duration("timeout", c.Timeout),
		slog.String("hello_name", c.HelloName),
		slog.Bool("insecure_skip_verify", c.InsecureSkipVerify),
		slog.Int("max_per_connection", c.MaxPerConnection),
		slog.Int("max_connections", c.MaxConnections),
	}
	if c.DKIM != nil {
		attrs = append(attrs, slog.Any("dkim", c.DKIM.LogValue()))
	}
	return slog.GroupValue(attrs...)
}

// String prints the DKIM settings with the key redacted.
func (d DKIM) String() string {
	return fmt.Sprintf("email.DKIM{Domain:%s Selector:%s PrivateKeyPEM:%s}", d.Domain, d.Selector, redact(d.PrivateKeyPEM))
}

// GoString makes %#v redact too.
func (d DKIM) GoString() string { return d.String() }

// LogValue logs the DKIM settings with the key redacted.
func (d DKIM) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("domain", d.Domain),
		slog.String("selector", d.Selector),
		slog.String("private_key_pem", redact(d.PrivateKeyPEM)),
	)
}

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

// setDefaults fills in zero fields and validates the rest.
func (c *Config) setDefaults() error {
	if c.Host == "" {
		return errors.New("email: host is required")
	}
	if strings.ContainsFunc(c.Host, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' }) ||
		(strings.Contains(c.Host, ":") && net.ParseIP(c.Host) == nil) {
		return fmt.Errorf("email: host %q: want a host name or an IP address, without a port", c.Host)
	}
	switch c.TLS {
	case "":
		c.TLS = StartTLS
	case StartTLS, ImplicitTLS, NoTLS:
	default:
		return fmt.Errorf("email: tls %q: want %q, %q or %q", c.TLS, StartTLS, ImplicitTLS, NoTLS)
	}
	switch {
	case c.Port == 0 && c.TLS == StartTLS:
		c.Port = 587
	case c.Port == 0 && c.TLS == ImplicitTLS:
		c.Port = 465
	case c.Port == 0:
		c.Port = 25
	case c.Port < 0 || c.Port > 65535:
		return fmt.Errorf("email: port %d out of range", c.Port)
	}
	if c.Username == "" && c.Password != "" {
		return errors.New("email: password set without a username")
	}
	if c.Username != "" && c.TLS == NoTLS && !isLoopback(c.Host) {
		return fmt.Errorf("email: tls %q would send the password to %s in clear text: use %q or %q",
			NoTLS, c.Host, StartTLS, ImplicitTLS)
	}
	if c.From.Address == "" {
		return errors.New("email: from address is required")
	}
	from, err := bareAddress(c.From.Address)
	if err != nil {
		return fmt.Errorf("email: from: %w", err)
	}
	c.From.Address = from
	if strings.ContainsFunc(c.From.Name, unicode.IsControl) {
		return fmt.Errorf("email: from name %q contains control characters", c.From.Name)
	}
	if c.ReplyTo != "" {
		if strings.ContainsAny(c.ReplyTo, "\r\n") {
			return fmt.Errorf("email: reply-to %q contains a line break", c.ReplyTo)
		}
		if _, err := mail.ParseAddress(c.ReplyTo); err != nil {
			return fmt.Errorf("email: reply-to %q: %w", c.ReplyTo, err)
		}
	}
	switch {
	case c.Timeout < 0:
		return fmt.Errorf("email: timeout %s is negative", c.Timeout)
	case c.Timeout == 0:
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.MaxPerConnection < 0:
		return fmt.Errorf("email: max per connection %d is negative", c.MaxPerConnection)
	case c.MaxPerConnection == 0:
		c.MaxPerConnection = DefaultMaxPerConnection
	}
	switch {
	case c.MaxConnections < 0:
		return fmt.Errorf("email: max connections %d is negative", c.MaxConnections)
	case c.MaxConnections == 0:
		c.MaxConnections = DefaultMaxConnections
	}
	if c.HelloName == "" {
		c.HelloName, _ = os.Hostname()
		if c.HelloName == "" {
			c.HelloName = "localhost"
		}
	}
	if strings.ContainsFunc(c.HelloName, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return fmt.Errorf("email: hello name %q contains spaces or control characters", c.HelloName)
	}
	if d := c.DKIM; d != nil {
		switch {
		case d.Domain == "":
			return errors.New("email: dkim domain is required")
		case d.Selector == "":
			return errors.New("email: dkim selector is required")
		case len(d.PrivateKeyPEM) == 0:
			return errors.New("email: dkim private key is required")
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
		s.settle(c, res)
		if reused && res.stage == stageMail && res.connectionLost() && ctx.Err() == nil {
			// An idle connection the server has given up on: nothing of
			// the message was sent, so a new connection is no duplicate.
			s.log.Debug("smtp idle connection lost, reconnecting", "server", s.addr, "error", res.err)
			fresh = true
			continue
		}
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
	setAddress(msg, gomail.HeaderFrom, s.cfg.From)
	setAddress(msg, gomail.HeaderTo, mail.Address{Name: headerText(m.ToName), Address: to})
	if s.replyTo != nil {
		setAddress(msg, gomail.HeaderReplyTo, *s.replyTo)
	}
	msg.Subject(headerText(m.Subject))
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
	if _, err := msg.WriteTo(&buf); err != nil {
		return rendered{}, channels.Permanent(channels.ReasonInternal, fmt.Errorf("email: render message %s: %w", m.DeliveryID, err))
	}
	data := buf.Bytes()
	if s.dkimKey != nil {
		data = refoldDKIM(data)
	}
	return rendered{to: to, msgID: "<" + local + "@" + s.fromDomain + ">", data: data}, nil
}

// setAddress sets an address header through go-mail, except for a name
// net/mail would garble: it Q-encodes a non-ASCII name but leaves a "\"
// raw, which RFC 2047 forbids in a phrase, and the header no longer parses.
// Such a name is B-encoded here, folded between its encoded words.
func setAddress(msg *gomail.Msg, h gomail.AddrHeader, a mail.Address) {
	if printableASCII(a.Name) || !strings.Contains(a.Name, `\`) {
		msg.SetAddrHeaderFromMailAddress(h, &a)
		return
	}
	words := strings.Fields(mime.BEncoding.Encode("utf-8", a.Name))
	msg.SetGenHeaderPreformatted(gomail.Header(h), strings.Join(words, "\r\n ")+" "+(&mail.Address{Address: a.Address}).String())
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
	field := strings.NewReplacer("\r\n ", "", "\r\n\t", "").Replace(string(data[:end-2]))
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

// headerText makes s safe and tidy for a header: valid UTF-8, and runs of
// spaces, line breaks and other control characters reduced to one space.
func headerText(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToValidUTF8(s, "\uFFFD"), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
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

// oneClickURL checks an unsubscribe URL and percent-encodes what could
// break out of its angle brackets or the header: line breaks are dropped;
// spaces, controls, non-ASCII bytes, quotes, angle brackets, commas and a
// stray "%" are escaped.
func oneClickURL(raw string) (string, error) {
	in := strings.NewReplacer("\r", "", "\n", "").Replace(raw)
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

package email

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"os"
	"strings"
	"time"
	"unicode"
)

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
	DefaultTimeout = 30 * time.Second
	// A server that allows fewer says so at MAIL FROM, and the sender
	// reconnects then (see Send), so the default need not be cautious.
	DefaultMaxPerConnection = 1000
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

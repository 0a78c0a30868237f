package email

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// testServer is an in-process SMTP server (emersion/go-smtp) that records
// every connection, RCPT attempt and message, and answers as its rules say.
type testServer struct {
	addr     *net.TCPAddr
	srv      *gosmtp.Server
	password string
	// perConnection and limitReply: see serverConfig.
	perConnection int
	limitReply    bool

	mu       sync.Mutex
	conns    []net.Conn // every accepted connection, in order
	rcpts    map[string]int
	datas    map[string]int
	msgs     []received
	payloads []received // every payload read to the end, even if not accepted
	rules    map[string]*rule
	tls      []bool // per session: did it run over TLS
}

// received is one message as the server read it.
type received struct {
	From string
	To   []string
	Data []byte
}

// rule scripts the server's answers for one recipient.
type rule struct {
	rcpt []*gosmtp.SMTPError // replies to the first RCPT TO attempts; nil accepts
	data []*gosmtp.SMTPError // replies to the first payloads; nil accepts
	// drop closes the connection after reading the payload, with no reply.
	drop bool
	// arrived, when set, is sent a value once the payload is read; hold,
	// when set, is waited for before replying.
	arrived chan struct{}
	hold    chan struct{}
}

// serverConfig sets up a testServer.
type serverConfig struct {
	password    string // when set, AUTH PLAIN as "mailer" is offered and required
	startTLS    bool   // offer STARTTLS with a self-signed certificate
	implicitTLS bool   // speak TLS from the first byte
	// perConnection, when set, refuses the MAIL FROM after that many on a
	// connection: with limitReply, as a 452 on an open connection (Postfix
	// smtpd_client_message_rate_limit style), or else as a 421 and a close.
	perConnection int
	limitReply    bool
}

func startServer(t testing.TB, sc serverConfig) *testServer {
	t.Helper()
	ts := &testServer{password: sc.password, perConnection: sc.perConnection, limitReply: sc.limitReply, rcpts: map[string]int{}, datas: map[string]int{}, rules: map[string]*rule{}}
	s := gosmtp.NewServer(gosmtp.BackendFunc(ts.newSession))
	s.Domain = "mx.test"
	s.AllowInsecureAuth = true
	s.EnableSMTPUTF8 = true
	s.ErrorLog = log.New(io.Discard, "", 0)
	if sc.startTLS || sc.implicitTLS {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().(*net.TCPAddr)
	var l net.Listener = &recordingListener{Listener: ln, ts: ts}
	if sc.implicitTLS {
		l = tls.NewListener(l, s.TLSConfig)
	}
	ts.srv = s
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return ts
}

// recordingListener records accepted connections.
type recordingListener struct {
	net.Listener
	ts *testServer
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.ts.mu.Lock()
		l.ts.conns = append(l.ts.conns, c)
		l.ts.mu.Unlock()
	}
	return c, err
}

func (ts *testServer) on(rcpt string, r *rule) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.rules[rcpt] = r
}

func (ts *testServer) connections() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.conns)
}

func (ts *testServer) messages() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.msgs...)
}

func (ts *testServer) rcptAttempts(rcpt string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.rcpts[rcpt]
}

// messagesTo counts the messages accepted for rcpt.
func (ts *testServer) messagesTo(rcpt string) int {
	n := 0
	for _, m := range ts.messages() {
		for _, to := range m.To {
			if to == rcpt {
				n++
			}
		}
	}
	return n
}

// dropAll says "421" on every connection and closes it, as a server does
// at its idle timeout or when it restarts.
func (ts *testServer) dropAll() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, c := range ts.conns {
		_, _ = io.WriteString(c, "421 4.4.2 mx.test closing idle connection\r\n")
		_ = c.Close()
	}
}

func (ts *testServer) newSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	ts.mu.Lock()
	ts.tls = append(ts.tls, isTLS)
	ts.mu.Unlock()
	return &session{ts: ts, conn: c}, nil
}

type session struct {
	ts     *testServer
	conn   *gosmtp.Conn
	mails  int // MAIL FROMs on this connection
	authed bool
	from   string
	to     []string
}

func (s *session) AuthMechanisms() []string {
	if s.ts.password == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != "mailer" || password != s.ts.password {
			return gosmtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if s.ts.password != "" && !s.authed {
		return gosmtp.ErrAuthRequired
	}
	s.mails++
	if s.ts.perConnection > 0 && s.mails > s.ts.perConnection {
		if s.ts.limitReply {
			return &gosmtp.SMTPError{Code: 452, EnhancedCode: gosmtp.EnhancedCode{4, 5, 3}, Message: "too many messages on this connection"}
		}
		_, _ = io.WriteString(s.conn.Conn(), "421 4.7.0 mx.test too many messages on this connection, closing\r\n")
		_ = s.conn.Conn().Close()
		return errors.New("closed")
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.ts.mu.Lock()
	s.ts.rcpts[to]++
	n := s.ts.rcpts[to]
	r := s.ts.rules[to]
	s.ts.mu.Unlock()
	if r != nil && n <= len(r.rcpt) && r.rcpt[n-1] != nil {
		return r.rcpt[n-1]
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(body io.Reader) error {
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	m := received{From: s.from, To: append([]string(nil), s.to...), Data: data}
	s.ts.mu.Lock()
	s.ts.payloads = append(s.ts.payloads, m)
	var r *rule
	n := 0
	if len(s.to) > 0 {
		r = s.ts.rules[s.to[0]]
		s.ts.datas[s.to[0]]++
		n = s.ts.datas[s.to[0]]
	}
	s.ts.mu.Unlock()
	if r != nil {
		if r.arrived != nil {
			r.arrived <- struct{}{}
		}
		if r.hold != nil {
			<-r.hold
		}
		if r.drop {
			_ = s.conn.Conn().Close()
			return io.ErrUnexpectedEOF
		}
		if n <= len(r.data) && r.data[n-1] != nil {
			return r.data[n-1]
		}
	}
	s.ts.mu.Lock()
	s.ts.msgs = append(s.ts.msgs, m)
	s.ts.mu.Unlock()
	return nil
}

func (s *session) Reset() { s.from, s.to = "", nil }

func (s *session) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1.
func selfSigned(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mx.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// totalRcpts counts every RCPT TO the server has seen.
func (ts *testServer) totalRcpts() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	n := 0
	for _, c := range ts.rcpts {
		n += c
	}
	return n
}

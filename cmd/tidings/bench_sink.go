package main

import (
	"io"
	"log"
	"net"
	"sync/atomic"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// benchSink is the SMTP server `bench --smtp` delivers to unless given
// --smtp-addr: it accepts every message and keeps only counts, so that what
// is measured is the sender, not a mail store.
type benchSink struct {
	srv  *gosmtp.Server
	addr *net.TCPAddr

	messages atomic.Int64
	bytes    atomic.Int64 // the messages' DATA as sent: CRLF line ends, dots unstuffed
	first    atomic.Int64 // Unix nanoseconds at which the first message was read in full; 0 before
}

// startBenchSink listens on a free loopback port.
func startBenchSink() (*benchSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &benchSink{addr: ln.Addr().(*net.TCPAddr)}
	s.srv = gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return sinkSession{s}, nil }))
	s.srv.Domain = "sink.bench.example"
	// Generous, so that a client stalled by a loaded machine is measured
	// as slow rather than cut off.
	s.srv.ReadTimeout, s.srv.WriteTimeout = time.Minute, time.Minute
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// reset starts a new phase.
func (s *benchSink) reset() {
	s.messages.Store(0)
	s.bytes.Store(0)
	s.first.Store(0)
}

// firstAt is when the phase's first message arrived (zero: none yet).
func (s *benchSink) firstAt() time.Time {
	if n := s.first.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

func (s *benchSink) close() error { return s.srv.Close() }

// sinkSession accepts every sender, recipient and message.
type sinkSession struct{ s *benchSink }

func (sinkSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (sinkSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (sinkSession) Reset()                                 {}
func (sinkSession) Logout() error                          { return nil }

func (ss sinkSession) Data(r io.Reader) error {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return err
	}
	ss.s.first.CompareAndSwap(0, time.Now().UnixNano())
	ss.s.bytes.Add(n)
	ss.s.messages.Add(1)
	return nil
}

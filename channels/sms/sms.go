package sms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	twclient "github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/internal/redact"
)

// Defaults for the zero values of Config.
const (
	DefaultBaseURL = "https://api.twilio.com"
	DefaultTimeout = 15 * time.Second
)

// MaxValidityPeriod is the longest ValidityPeriod Twilio accepts (36000 s).
const MaxValidityPeriod = 10 * time.Hour

var (
	accountSIDRe = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	serviceSIDRe = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	// twilio-go refuses credentials with other characters (error 21224)
	// only when it sends; New says so at start-up instead.
	tokenRe = regexp.MustCompile(`^[A-Za-z0-9]+$`)
)

// Config configures the Twilio sender. Secrets come from the environment
// only, never from tidings.yaml.
type Config struct {
	AccountSID string // TIDINGS_TWILIO_ACCOUNT_SID, "AC" and 32 hex digits
	// AuthToken is TIDINGS_TWILIO_AUTH_TOKEN. String, GoString and LogValue
	// print it as "<secret>".
	AuthToken string
	// Exactly one of MessagingServiceSID ("MG" and 32 hex digits) and From
	// (an E.164 number) names the sender.
	MessagingServiceSID string
	From                string
	// BaseURL is where the Messages API lives (default DefaultBaseURL): a
	// Twilio edge, a Twilio-compatible provider, or a test server. A path
	// prefix is kept: https://gw.example/twilio sends to
	// https://gw.example/twilio/2010-04-01/Accounts/….
	BaseURL string
	// StatusCallback, when set, is the URL Twilio reports delivery status
	// to; each message adds "delivery=<DeliveryID>" to its query.
	StatusCallback string
	// ValidityPeriod, when set (1 s to 10 h), is how long Twilio may keep the
	// message queued before giving up; whole seconds, rounded up.
	ValidityPeriod time.Duration
	// Timeout bounds one API call, connection included (default
	// DefaultTimeout).
	Timeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

func (c Config) validate() error {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if !accountSIDRe.MatchString(c.AccountSID) {
		bad("account SID %q: want \"AC\" and 32 hex digits", c.AccountSID)
	}
	switch {
	case c.AuthToken == "":
		bad("auth token is empty")
	case !tokenRe.MatchString(c.AuthToken):
		bad("auth token: want letters and digits only")
	}
	switch {
	case c.MessagingServiceSID == "" && c.From == "":
		bad("set a messaging service SID or a From number")
	case c.MessagingServiceSID != "" && c.From != "":
		bad("set a messaging service SID or a From number, not both")
	case c.MessagingServiceSID != "" && !serviceSIDRe.MatchString(c.MessagingServiceSID):
		bad("messaging service SID %q: want \"MG\" and 32 hex digits", c.MessagingServiceSID)
	case c.From != "" && !channels.IsE164(c.From):
		bad("from %q: want an E.164 number such as +14155550100", c.From)
	}
	if err := checkURL(c.BaseURL, false); err != nil {
		bad("base URL %q: %v", redact.URL(c.BaseURL), err)
	}
	if c.StatusCallback != "" {
		if err := checkURL(c.StatusCallback, true); err != nil {
			bad("status callback %q: %v", redact.URL(c.StatusCallback), err)
		}
	}
	if c.ValidityPeriod != 0 && (c.ValidityPeriod < time.Second || c.ValidityPeriod > MaxValidityPeriod) {
		bad("validity period %s: want 1s to 10h", c.ValidityPeriod)
	}
	if c.Timeout < 0 {
		bad("timeout %s is negative", c.Timeout)
	}
	if problems != nil {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// checkURL accepts an absolute http or https URL with a host.
func checkURL(raw string, queryOK bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.Unwrap(err) // url.Error repeats the URL, which may hold a password
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("want an http or https URL")
	case u.Host == "":
		return errors.New("no host")
	case u.Fragment != "":
		return errors.New("no fragment allowed")
	case !queryOK && (u.RawQuery != "" || u.ForceQuery):
		return errors.New("no query allowed")
	}
	return nil
}

func redactSecret(s string) string {
	if s == "" {
		return ""
	}
	return "<secret>"
}

// String prints the configuration with the auth token (and any password in
// a URL) replaced.
func (c Config) String() string {
	return fmt.Sprintf("sms.Config{AccountSID:%s AuthToken:%s MessagingServiceSID:%s From:%s BaseURL:%s StatusCallback:%s ValidityPeriod:%s Timeout:%s}",
		c.AccountSID, redactSecret(c.AuthToken), c.MessagingServiceSID, c.From,
		redact.URL(c.BaseURL), redact.URL(c.StatusCallback), c.ValidityPeriod, c.Timeout)
}

// GoString keeps %#v from printing the auth token.
func (c Config) GoString() string { return c.String() }

// LogValue logs the configuration with the auth token replaced.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("account_sid", c.AccountSID),
		slog.String("auth_token", redactSecret(c.AuthToken)),
		slog.String("messaging_service_sid", c.MessagingServiceSID),
		slog.String("from", c.From),
		slog.String("base_url", redact.URL(c.BaseURL)),
		slog.String("status_callback", redact.URL(c.StatusCallback)),
		slog.Duration("validity_period", c.ValidityPeriod),
		slog.Duration("timeout", c.Timeout),
	)
}

// Sender sends SMS through Twilio's Messages API. It is safe for
// concurrent use.
type Sender struct {
	cfg       Config
	base      *url.URL
	validity  int // seconds, 0: not sent
	log       *slog.Logger
	transport *http.Transport // shared connection pool
	now       func() time.Time
}

var _ channels.Sender = (*Sender)(nil)

// New validates cfg and returns a sender. A nil logger discards.
func New(cfg Config, log *slog.Logger) (*Sender, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("sms: %w", err)
	}
	base, _ := url.Parse(cfg.BaseURL) // validated
	base.Path = strings.TrimSuffix(base.Path, "/")
	base.RawPath = ""
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	// HTTP/1.1 only: there the trace hooks that tell "never sent" from
	// "maybe delivered" run in step with the request; one message per
	// request gains little from HTTP/2 multiplexing.
	t.Protocols = new(http.Protocols)
	t.Protocols.SetHTTP1(true)
	t.MaxIdleConnsPerHost = 32 // batch workers send concurrently to one host
	return &Sender{
		cfg:       cfg,
		base:      base,
		validity:  int((cfg.ValidityPeriod + time.Second - 1) / time.Second),
		log:       log,
		transport: t,
		now:       time.Now,
	}, nil
}

// Send creates a Message resource and returns its SID. Every error is a
// *channels.Error; see the package documentation for the classification.
func (s *Sender) Send(ctx context.Context, m channels.Message) (string, error) {
	if m.Channel != "" && m.Channel != channels.SMS {
		return "", channels.Permanent(channels.ReasonInternal, fmt.Errorf("sms: message for channel %q", m.Channel))
	}
	if !channels.IsE164(m.To) {
		return "", channels.Permanent(channels.ReasonInvalidAddress, fmt.Errorf("sms: to %q is not an E.164 number", m.To))
	}
	if m.Body == "" {
		return "", channels.Permanent(channels.ReasonRejected, errors.New("sms: empty body"))
	}

	params := &api.CreateMessageParams{}
	params.SetTo(m.To).SetBody(m.Body)
	if s.cfg.MessagingServiceSID != "" {
		params.SetMessagingServiceSid(s.cfg.MessagingServiceSID)
	} else {
		params.SetFrom(s.cfg.From)
	}
	if s.cfg.StatusCallback != "" {
		params.SetStatusCallback(s.statusCallback(m.DeliveryID))
	}
	if s.validity > 0 {
		params.SetValidityPeriod(s.validity)
	}

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	x := &exchange{ctx: ctx, base: s.base, next: s.transport}
	c := &twclient.Client{
		Credentials: twclient.NewCredentials(s.cfg.AccountSID, s.cfg.AuthToken),
		HTTPClient: &http.Client{
			Transport: x,
			// A redirect would turn the POST into a GET elsewhere; twilio-go's
			// own default client does not follow them either.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		UserAgentExtensions: []string{"tidings"},
	}
	c.SetAccountSid(s.cfg.AccountSID)
	msg, err := api.NewApiServiceWithClient(c).CreateMessage(params)

	if cerr := s.classify(x, msg, err); cerr != nil {
		s.log.DebugContext(ctx, "sms not sent", "delivery_id", m.DeliveryID, "reason", cerr.Reason, "error", cerr.Err)
		return "", cerr
	}
	if s.log.Enabled(ctx, slog.LevelDebug) {
		enc, _, segments := Segments(m.Body)
		s.log.DebugContext(ctx, "sms sent", "delivery_id", m.DeliveryID, "sid", *msg.Sid, "encoding", enc, "segments", segments)
	}
	return *msg.Sid, nil
}

func (s *Sender) statusCallback(deliveryID string) string {
	sep := "?"
	if strings.Contains(s.cfg.StatusCallback, "?") {
		sep = "&"
	}
	return s.cfg.StatusCallback + sep + "delivery=" + url.QueryEscape(deliveryID)
}

// classify returns nil when Twilio created the message.
func (s *Sender) classify(x *exchange, msg *api.ApiV2010Message, err error) *channels.Error {
	status := x.status
	switch {
	case status >= 300 && status < 400:
		return channels.Permanent(channels.ReasonRejected, fmt.Errorf("twilio: unexpected redirect (HTTP %d), check the base URL", status))
	case err == nil && (msg == nil || msg.Sid == nil || *msg.Sid == ""):
		return channels.Ambiguous(fmt.Errorf("twilio: HTTP %d without a message SID", status))
	case err == nil:
		return nil
	}

	var tre *twclient.TwilioRestError
	if errors.As(err, &tre) {
		if status == 0 {
			status = tre.Status // raised by twilio-go before sending
		}
		return classifyAPI(&APIError{Status: status, Code: tre.Code, Message: tre.Message, MoreInfo: tre.MoreInfo},
			retryAfter(x.retryAfter, s.now()))
	}
	if status >= 400 {
		// twilio-go could not decode the error body.
		return classifyAPI(&APIError{Status: status, Message: fmt.Sprintf("unreadable error body %q", truncate(x.errBody, 120))},
			retryAfter(x.retryAfter, s.now()))
	}
	if status != 0 {
		// A 2xx whose body was cut short or garbled: Twilio took the
		// message, but we do not know its SID.
		return channels.Ambiguous(fmt.Errorf("twilio: HTTP %d with an unreadable body: %w", status, err))
	}
	if x.maybeSent() {
		return channels.Ambiguous(fmt.Errorf("twilio: request sent, no response: %w", err))
	}
	return channels.Retryable(channels.ReasonUnavailable, 0, fmt.Errorf("twilio: request not sent: %w", err))
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

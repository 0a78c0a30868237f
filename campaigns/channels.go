package campaigns

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/channels/ratelimit"
	"github.com/tidings/tidings/customer"
)

// FrequencyCap limits how many messages one customer gets on one channel,
// across all campaigns: at most Max in any Per.
type FrequencyCap struct {
	Max int
	Per time.Duration
}

// IsZero reports whether no cap is set.
func (f FrequencyCap) IsZero() bool { return f.Max == 0 }

func (f FrequencyCap) String() string {
	return fmt.Sprintf("%d per %s", f.Max, FormatDuration(f.Per))
}

func (d decoder) frequencyCap(n *node, what string, dst *FrequencyCap) {
	f := FrequencyCap{}
	d.fields(n, what, map[string]func(*node){
		"max": func(v *node) { d.intRange(v, what+".max", 1, 1000, &f.Max) },
		"per": func(v *node) {
			str, ok := d.str(v, what+".per")
			if !ok {
				return
			}
			dur, err := ParseDuration(str)
			if err != nil {
				d.errorf(v, "such as 7d or 24h", "%s.per: %v", what, err)
				return
			}
			if dur <= 0 {
				d.errorf(v, "such as 7d or 24h", "%s.per: %q is no period; remove frequency_cap for no cap", what, str)
				return
			}
			f.Per = dur
		},
	})
	if n.kind == mapNode && d.require(n, "max", what) && d.require(n, "per", what) && f.Max > 0 && f.Per > 0 {
		*dst = f
	}
}

// ChannelSettings configure the delivery channels (tidings.yaml `channels:`).
// Secrets are not here: TIDINGS_SMTP_PASSWORD, TIDINGS_TWILIO_ACCOUNT_SID,
// TIDINGS_TWILIO_AUTH_TOKEN and TIDINGS_DKIM_KEY come from the environment.
type ChannelSettings struct {
	Email EmailSettings
	SMS   SMSSettings
	// BreakAfter pauses a run after this many consecutive provider failures
	// (timeouts, 5xx, refusals), instead of failing recipient after recipient.
	BreakAfter int
}

// EmailSettings configure email.
type EmailSettings struct {
	SMTP    *SMTPSettings // nil: email has no provider (only the outbox)
	ReplyTo string
	Rate    ratelimit.Rate
	DKIM    *DKIMSettings
}

// SMTPSettings name the SMTP server.
type SMTPSettings struct {
	Host           string
	Port           int
	TLS            string // starttls, tls or none
	Username       string
	Timeout        time.Duration
	MaxConnections int
	// MessagesPerConnection is how many messages go over one connection
	// before it is closed and a new one opened.
	MessagesPerConnection int
}

// DKIMSettings name the signing domain and selector; the key is the
// environment's TIDINGS_DKIM_KEY.
type DKIMSettings struct {
	Domain, Selector string
}

// SMSSettings configure SMS.
type SMSSettings struct {
	Twilio *TwilioSettings // nil: SMS has no provider (only the outbox)
	// Outbox writes SMS as files under this folder instead of sending them,
	// while email still goes out through SMTP (delivery.outbox diverts every
	// channel): for a setup with a mail catcher but no SMS provider.
	Outbox string
	Rate   ratelimit.Rate
	// Footers are the opt-out lines marketing SMS must carry, by locale
	// ("zh": "回T退订", "": "Reply STOP to opt out"); the default is "".
	Footers map[string]string
	// MaxSegments is the default limit on billable parts of one SMS.
	MaxSegments int
}

// TwilioSettings configure Twilio's Messages API.
type TwilioSettings struct {
	MessagingServiceSID string
	From                string
	BaseURL             string
	StatusCallback      string
	ValidityPeriod      time.Duration
}

var sidRe = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)

func (d decoder) channelSettings(n *node, s *ChannelSettings) {
	d.fields(n, "channels", map[string]func(*node){
		"email": func(v *node) { d.emailSettings(v, &s.Email) },
		"sms":   func(v *node) { d.smsSettings(v, &s.SMS) },
		"break_after": func(v *node) {
			d.intRange(v, "channels.break_after", 1, 100000, &s.BreakAfter)
		},
	})
}

func (d decoder) rate(n *node, what string, dst *ratelimit.Rate) {
	str, ok := d.str(n, what)
	if !ok {
		return
	}
	r, err := ratelimit.ParseRate(str)
	if err != nil {
		d.errorf(n, "", "%s: %v", what, err)
		return
	}
	*dst = r
}

func (d decoder) emailSettings(n *node, s *EmailSettings) {
	d.fields(n, "channels.email", map[string]func(*node){
		"rate": func(v *node) { d.rate(v, "channels.email.rate", &s.Rate) },
		"reply_to": func(v *node) {
			if r, ok := d.str(v, "channels.email.reply_to"); ok {
				if _, err := mail.ParseAddress(r); err != nil {
					d.errorf(v, "", "channels.email.reply_to: bad address %q", r)
					return
				}
				s.ReplyTo = r
			}
		},
		"dkim": func(v *node) {
			k := &DKIMSettings{}
			d.fields(v, "channels.email.dkim", map[string]func(*node){
				"domain":   func(x *node) { k.Domain, _ = d.str(x, "channels.email.dkim.domain") },
				"selector": func(x *node) { k.Selector, _ = d.str(x, "channels.email.dkim.selector") },
			})
			if v.kind == mapNode && d.require(v, "domain", "channels.email.dkim") && d.require(v, "selector", "channels.email.dkim") {
				s.DKIM = k
			}
		},
		"smtp": func(v *node) {
			c := &SMTPSettings{Port: 587, TLS: "starttls", Timeout: 30 * time.Second, MaxConnections: 4, MessagesPerConnection: 1000}
			d.fields(v, "channels.email.smtp", map[string]func(*node){
				"host": func(x *node) {
					h, ok := d.str(x, "channels.email.smtp.host")
					if ok && (h == "" || strings.ContainsAny(h, ":/ ")) {
						d.errorf(x, "a host name alone; the port is channels.email.smtp.port", "channels.email.smtp.host: bad host %q", h)
						return
					}
					c.Host = h
				},
				"port": func(x *node) { d.intRange(x, "channels.email.smtp.port", 1, 65535, &c.Port) },
				"tls": func(x *node) {
					if t, ok := d.str(x, "channels.email.smtp.tls"); ok {
						if !slices.Contains([]string{"starttls", "tls", "none"}, t) {
							d.errorf(x, "starttls (port 587), tls (implicit, port 465) or none (local mail catchers only)", "channels.email.smtp.tls: unknown mode %q", t)
						}
						c.TLS = t
					}
				},
				"username": func(x *node) { c.Username, _ = d.str(x, "channels.email.smtp.username") },
				"timeout": func(x *node) {
					d.goDuration(x, "channels.email.smtp.timeout", time.Second, 10*time.Minute, "30s", &c.Timeout)
				},
				"max_connections": func(x *node) {
					d.intRange(x, "channels.email.smtp.max_connections", 1, 100, &c.MaxConnections)
				},
				"messages_per_connection": func(x *node) {
					d.intRange(x, "channels.email.smtp.messages_per_connection", 1, 100000, &c.MessagesPerConnection)
				},
				"password": func(x *node) {
					d.errorf(x, "set TIDINGS_SMTP_PASSWORD in the environment", "channels.email.smtp.password: secrets never go in files")
				},
			})
			if v.kind == mapNode && d.require(v, "host", "channels.email.smtp") {
				local := c.Host == "localhost" || strings.HasPrefix(c.Host, "127.") || c.Host == "::1"
				if c.TLS == "none" && c.Username != "" && !local {
					d.errorf(v, "use tls: starttls or tls; none is for mail catchers on this host", "channels.email.smtp: a password would cross the network in clear (tls: none with a username)")
					return
				}
				s.SMTP = c
			}
		},
	})
}

func (d decoder) smsSettings(n *node, s *SMSSettings) {
	d.fields(n, "channels.sms", map[string]func(*node){
		"rate": func(v *node) { d.rate(v, "channels.sms.rate", &s.Rate) },
		"outbox": func(v *node) {
			if o, ok := d.str(v, "channels.sms.outbox"); ok {
				if o == "" {
					d.errorf(v, "a folder such as /data/outbox", "channels.sms.outbox: empty path")
					return
				}
				s.Outbox = o
			}
		},
		"max_segments": func(v *node) {
			d.intRange(v, "channels.sms.max_segments", 1, 10, &s.MaxSegments)
		},
		"footer": func(v *node) {
			s.Footers = map[string]string{}
			if v.kind == scalarNode {
				s.Footers[""], _ = d.str(v, "channels.sms.footer")
				return
			}
			if v.kind != mapNode {
				d.errorf(v, `a line, or one per locale: {zh: "回T退订", default: "Reply STOP to opt out"}`, "channels.sms.footer: expected a string or a mapping")
				return
			}
			if len(v.pairs) == 0 {
				d.errorf(v, `a line, or one per locale: {zh: "回T退订", default: "Reply STOP to opt out"}`, "channels.sms.footer: empty; remove the key to check no footer")
			}
			for _, p := range v.pairs {
				locale := p.key.value
				if locale == "default" {
					locale = ""
				}
				footer, ok := d.str(p.val, "channels.sms.footer."+p.key.value)
				if ok && strings.TrimSpace(footer) == "" {
					d.errorf(p.val, "the opt-out line SMS must end with, such as 回T退订", "channels.sms.footer.%s: empty", p.key.value)
				}
				s.Footers[customer.LocaleFallbacks(locale)[0]] = footer // its most specific key
			}
		},
		"twilio": func(v *node) {
			t := &TwilioSettings{BaseURL: "https://api.twilio.com", ValidityPeriod: 4 * time.Hour}
			d.fields(v, "channels.sms.twilio", map[string]func(*node){
				"messaging_service_sid": func(x *node) {
					if sid, ok := d.str(x, "channels.sms.twilio.messaging_service_sid"); ok {
						if !sidRe.MatchString(sid) {
							d.errorf(x, "MG followed by 32 hexadecimal digits", "channels.sms.twilio.messaging_service_sid: bad SID %q", sid)
						}
						t.MessagingServiceSID = sid
					}
				},
				"from": func(x *node) {
					if f, ok := d.str(x, "channels.sms.twilio.from"); ok {
						if !channels.IsE164(f) {
							d.errorf(x, "an E.164 number such as +14155550100", "channels.sms.twilio.from: bad number %q", f)
						}
						t.From = f
					}
				},
				"base_url":        func(x *node) { t.BaseURL = d.httpURL(x, "channels.sms.twilio.base_url") },
				"status_callback": func(x *node) { t.StatusCallback = d.httpURL(x, "channels.sms.twilio.status_callback") },
				"validity_period": func(x *node) {
					d.goDuration(x, "channels.sms.twilio.validity_period", time.Second, 10*time.Hour, "4h", &t.ValidityPeriod)
				},
				"auth_token": func(x *node) {
					d.errorf(x, "set TIDINGS_TWILIO_AUTH_TOKEN in the environment", "channels.sms.twilio.auth_token: secrets never go in files")
				},
			})
			if v.kind != mapNode {
				return
			}
			if (t.MessagingServiceSID == "") == (t.From == "") && d.has(v, "messaging_service_sid") == d.has(v, "from") {
				d.errorf(v, "", "channels.sms.twilio: set exactly one of messaging_service_sid or from")
				return
			}
			s.Twilio = t
		},
	})
	if s.Twilio != nil && s.Outbox != "" {
		d.errorf(n, "remove one: twilio sends, outbox writes files", "channels.sms: both twilio and outbox are set")
	}
}

func (d decoder) httpURL(n *node, what string) string {
	u, ok := d.str(n, what)
	if !ok {
		return ""
	}
	if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || (what == "channels.sms.twilio.base_url" && (pu.RawQuery != "" || pu.Fragment != "")) {
		d.errorf(n, "", "%s: bad URL %q", what, u)
		return ""
	}
	return strings.TrimSuffix(u, "/")
}

// Footer returns the opt-out footer for a locale: zh-CN, then zh, then the
// default; "" when none is configured.
func (s SMSSettings) Footer(locale string) string {
	for _, k := range customer.LocaleFallbacks(locale) {
		if f, ok := s.Footers[k]; ok {
			return f
		}
	}
	return ""
}

// optOutRule is the opt-out wording the SMS rules of a destination's
// country ask for.
type optOutRule struct {
	locale   string // whose configured footer words it, if that has keyword
	keyword  string // what the footer must say
	fallback string // the footer when the configured one lacks keyword
}

var (
	// US carriers (the CTIA guidelines) and Canada's expect the word STOP,
	// which every carrier and Twilio honour.
	replySTOP = optOutRule{locale: "en", keyword: "STOP", fallback: "Reply STOP to opt out"}
	// China's rules for commercial SMS want the way to unsubscribe (退订)
	// in the message; 回T退订 is the wording customers know.
	replyTD = optOutRule{locale: "zh-CN", keyword: "退订", fallback: "回T退订"}
)

// optOutRules are the countries whose rules name the opt-out wording, by
// the region of the destination number. The US territories with +1 numbers
// share the US carriers and their rules.
var optOutRules = map[string]optOutRule{
	"US": replySTOP, "CA": replySTOP,
	"PR": replySTOP, "VI": replySTOP, "GU": replySTOP, "AS": replySTOP, "MP": replySTOP,
	"CN": replyTD,
}

// OptOutDestination is a country with an opt-out rule and a number there.
type OptOutDestination struct{ Region, Number string }

// OptOutDestinations returns a sample number for each opt-out rule, so that
// a check can render an SMS as each destination gets it: the footer the
// country asks for may make it longer than the locale's.
func OptOutDestinations() []OptOutDestination {
	return []OptOutDestination{{"US", "+12025550143"}, {"CN", "+8613800138000"}}
}

var stopWord = regexp.MustCompile(`\bSTOP\b`)

// DestinationFooter returns the opt-out footer an SMS to number (E.164)
// must carry, for a customer of locale, and the keyword that shows a body
// has it. Where the number's country has a rule (optOutRules), the footer
// follows the country, not the locale: a zh-CN customer on a +1 number is
// told to reply STOP. The wording is the configured footer of the rule's
// locale (en, zh-CN) if it has the keyword, else the rule's own. Elsewhere
// it is the locale's footer, with no keyword. With no footer configured
// there is none.
func (s SMSSettings) DestinationFooter(number, locale string) (footer, keyword string) {
	if len(s.Footers) == 0 {
		return "", ""
	}
	r, ok := optOutRules[ruleRegion(number)]
	if !ok {
		return s.Footer(locale), ""
	}
	footer = s.Footer(r.locale)
	if !hasOptOut(footer, r.keyword) {
		footer = r.fallback
	}
	return footer, r.keyword
}

// ruleRegion is the region of number (E.164) as far as optOutRules needs
// it, without the cost of the numbering plan (libphonenumber takes about
// 11 µs a number, on every SMS a worker sends) where it can: every +86
// number is China's and no other country code has a rule. +1 is shared by
// the US, Canada and Caribbean countries, told apart by the area code, so
// the region of each +1 area code is looked up once and kept.
func ruleRegion(number string) string {
	switch {
	case strings.HasPrefix(number, "+86"):
		return "CN"
	case !strings.HasPrefix(number, "+1") || len(number) < len("+1NPA"):
		return ""
	}
	npa := number[:len("+1NPA")]
	if r, ok := nanpRegions.Load(npa); ok {
		return r.(string)
	}
	r := customer.PhoneRegion(number)
	nanpRegions.Store(npa, r)
	return r
}

// nanpRegions caches ruleRegion's +1 lookups by area code: at most the
// 800-odd area codes in use.
var nanpRegions sync.Map

func hasOptOut(body, keyword string) bool {
	if keyword == "STOP" {
		return stopWord.MatchString(body) // not "STOPPED", not "stop by"
	}
	return strings.Contains(body, keyword)
}

// WithFooter returns an SMS body for number ending with the opt-out its
// destination asks for (see DestinationFooter). A body that already has it
// (its footer, or the rule's keyword) is returned as it is. Otherwise the
// footer replaces the locale's, which the template ends with, or is added
// at the end: after a space, except between two Chinese characters.
func (s SMSSettings) WithFooter(body, number, locale string) string {
	footer, keyword := s.DestinationFooter(number, locale)
	if footer == "" || strings.Contains(body, footer) || keyword != "" && hasOptOut(body, keyword) {
		return body
	}
	if own := s.Footer(locale); own != "" {
		if rest, ok := strings.CutSuffix(body, own); ok {
			body = strings.TrimRightFunc(rest, unicode.IsSpace)
		}
	}
	last, _ := utf8.DecodeLastRuneInString(body)
	first, _ := utf8.DecodeRuneInString(footer)
	if body == "" || unicode.IsSpace(last) || wide(last) && wide(first) {
		return body + footer
	}
	return body + " " + footer
}

// wide reports whether r is written without spaces around it: Han, kana,
// and CJK and fullwidth punctuation.
func wide(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana) ||
		r >= 0x3000 && r <= 0x303f || r >= 0xff00 && r <= 0xffef
}

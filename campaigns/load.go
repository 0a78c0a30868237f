package campaigns

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// zones.txt lists the IANA zone names in Go's time zone database, for
// "did you mean" hints. Regenerate with: unzip -Z1 $(go env GOROOT)/lib/time/zoneinfo.zip
//
//go:embed zones.txt
var zonesTxt string

var zoneNames = sync.OnceValue(func() []string { return strings.Fields(zonesTxt) })

// Settings is configs/tidings.yaml: infrastructure settings. Credentials
// never live here; they come from the environment.
type Settings struct {
	// DefaultTimeZone is used for campaigns without schedule.timezone (and,
	// when a segment is evaluated on its own, for customers without one).
	DefaultTimeZone string
	// PhoneRegion is the region assumed for phone numbers written without a
	// country code when customers are imported.
	PhoneRegion string
	// Brand is the sender's name as templates show it.
	Brand string
	// PublicURL is where customers reach Tidings' public pages (unsubscribe
	// links are PublicURL/u/TOKEN).
	PublicURL string
	// EmailFrom is the From address of email, "Name <address>".
	EmailFrom string
	Delivery  DeliverySettings
	Channels  ChannelSettings
	// FrequencyCap applies to every campaign that does not set its own.
	FrequencyCap FrequencyCap
	// TrustedProxies are the reverse proxies in front of `tidings web`
	// whose X-Forwarded-For it believes, for the client's address.
	TrustedProxies []netip.Prefix
}

// DeliverySettings tune the pipeline.
type DeliverySettings struct {
	// BatchSize is how many customers one batch task carries.
	BatchSize int
	// SendingTimeout is how long a claimed, unsettled ledger row may stay
	// "sending" before the sweeper calls it unknown. It must exceed the
	// longest send a channel can take.
	SendingTimeout time.Duration
	// MaxRetries is how often a batch is retried after retryable errors
	// (waits for a rate limit do not count).
	MaxRetries int
	// Outbox, when set, is a folder every channel writes its messages to
	// instead of sending them.
	Outbox string
	// OutboxDelay simulates a provider's latency per outbox message.
	OutboxDelay time.Duration
	// UnknownCampaignGrace is how long a worker hands back a task whose
	// campaign, follow-up or template its configuration lacks (another
	// worker, deployed with it, may know it) before it gives the task up.
	// Zero gives it up at once.
	UnknownCampaignGrace time.Duration
}

// DefaultSettings are the settings when configs/tidings.yaml sets nothing.
func DefaultSettings() Settings {
	return Settings{
		DefaultTimeZone: "Asia/Shanghai",
		PhoneRegion:     "CN",
		Brand:           "Tidings",
		PublicURL:       "http://localhost:8080",
		EmailFrom:       "Tidings <hello@tidings.example>",
		Delivery:        DeliverySettings{BatchSize: 500, SendingTimeout: 10 * time.Minute, MaxRetries: 8, UnknownCampaignGrace: 24 * time.Hour},
		Channels:        ChannelSettings{BreakAfter: 50, SMS: SMSSettings{MaxSegments: 3}},
	}
}

// Config is everything loaded from a configuration folder.
type Config struct {
	Settings  Settings
	Segments  map[string]*Segment
	Campaigns map[string]*Campaign
}

// SegmentNames returns the segment names in order.
func (c *Config) SegmentNames() []string { return sortedKeys(c.Segments) }

// CampaignNames returns the campaign names in order.
func (c *Config) CampaignNames() []string { return sortedKeys(c.Campaigns) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Load reads dir/tidings.yaml, dir/segments/*.yaml and dir/campaigns/*.yaml
// and checks them against each other and against the template folders under
// templatesDir. It returns every problem it finds as Errors, never just the
// first; the Config is only usable when the error is nil.
func Load(dir, templatesDir string) (*Config, error) {
	cfg, errs := load(dir, templatesDir, false)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// LoadPartial is Load for `tidings validate`, which checks the templates
// of every campaign it can, even when some files have errors: with the
// errors it returns what could be decoded. The Config then also holds the
// campaigns that have errors (a campaign whose name is bad under its
// file's path, a second one of a name not at all), with whatever of them
// decoded, so it must not be run; it is nil only when dir cannot be read.
func LoadPartial(dir, templatesDir string) (*Config, error) {
	cfg, errs := load(dir, templatesDir, true)
	return cfg, errs.err()
}

// load reads the configuration folder. With partial, a campaign that has
// no usable name is kept under its file's path.
func load(dir, templatesDir string, partial bool) (*Config, Errors) {
	var errs Errors
	d := decoder{errs: &errs}
	cfg := &Config{Settings: DefaultSettings(), Segments: map[string]*Segment{}, Campaigns: map[string]*Campaign{}}

	d.loadSettings(dir, &cfg.Settings)
	if _, err := os.Stat(dir); err != nil {
		errs = append(errs, &Error{Pos: Pos{File: dir}, Msg: "configuration folder not found", Hint: "pass --config DIR"})
		return nil, errs
	}

	for _, f := range yamlFiles(dir, "segments", &errs) {
		n := readYAML(f, &errs)
		if n == nil {
			continue
		}
		s := d.segment(f, n)
		if s == nil || s.Name == "" {
			continue
		}
		if prev, dup := cfg.Segments[s.Name]; dup {
			errs = append(errs, &Error{Pos: s.At, Msg: fmt.Sprintf("duplicate segment name %q", s.Name), Hint: "also defined at " + prev.At.String()})
			continue
		}
		cfg.Segments[s.Name] = s
	}
	d.resolveSegments(cfg)

	for _, f := range yamlFiles(dir, "campaigns", &errs) {
		n := readYAML(f, &errs)
		if n == nil {
			continue
		}
		c, tmplNode := d.campaign(f, n, cfg.Settings.DefaultTimeZone)
		if c == nil {
			continue
		}
		if c.Name == "" {
			// Its name was reported; its templates can still be checked.
			if partial {
				cfg.Campaigns[f] = c
			}
			continue
		}
		if prev, dup := cfg.Campaigns[c.Name]; dup {
			errs = append(errs, &Error{Pos: c.Pos, Msg: fmt.Sprintf("duplicate campaign name %q", c.Name), Hint: "also defined at " + prev.Pos.String()})
			continue
		}
		if c.Audience != nil {
			if c.Audience.Where == nil {
				if seg, ok := cfg.Segments[c.Audience.Name]; ok {
					c.Audience = seg
				} else {
					d.unknownSegment(c.Audience.At, "audience.segment", c.Audience.Name, cfg)
				}
			} else {
				d.resolve(c.Audience.Where, cfg)
			}
		}
		if c.Template != "" {
			if e := missingTemplate(templatesDir, c.Template, "template", tmplNode.pos); e != nil {
				errs = append(errs, e)
			}
		}
		for i, f := range c.FollowUps {
			if e := missingTemplate(templatesDir, f.Template, fmt.Sprintf("follow_ups[%d].template", i), f.Pos); e != nil {
				errs = append(errs, e)
			}
		}
		cfg.Campaigns[c.Name] = c
	}
	return cfg, errs
}

// missingTemplate is the error of a template name (at pos, the key what)
// with no folder under templatesDir, or nil.
func missingTemplate(templatesDir, name, what string, pos Pos) *Error {
	if name == "" {
		return nil
	}
	if st, err := os.Stat(filepath.Join(templatesDir, name)); err == nil && st.IsDir() {
		return nil
	}
	return &Error{Pos: pos, Msg: fmt.Sprintf("%s: no template %q", what, name), Hint: "want a folder " + filepath.Join(templatesDir, name)}
}

// LoadSettings reads only dir/tidings.yaml, for commands that need the
// settings but not the campaigns (a broken campaign file must not stop a
// customer import). A missing file gives the defaults.
func LoadSettings(dir string) (Settings, error) {
	var errs Errors
	s := DefaultSettings()
	decoder{errs: &errs}.loadSettings(dir, &s)
	return s, errs.err()
}

func (d decoder) loadSettings(dir string, s *Settings) {
	file := filepath.Join(dir, "tidings.yaml")
	src, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		*d.errs = append(*d.errs, &Error{Pos: Pos{File: file}, Msg: err.Error()})
		return
	}
	n, perr := parseYAML(file, src)
	if perr != nil {
		*d.errs = append(*d.errs, perr)
		return
	}
	if n.kind != nullNode {
		d.settings(n, s)
	}
}

func (d decoder) settings(n *node, s *Settings) {
	defer d.crossCheckSettings(n, s)
	d.fields(n, "tidings.yaml", map[string]func(*node){
		"default_timezone": func(v *node) {
			tz, ok := d.str(v, "default_timezone")
			if !ok {
				return
			}
			if _, err := loadZone(tz); err != nil {
				d.errorf(v, zoneHint(tz), "default_timezone: unknown time zone %q", tz)
				return
			}
			s.DefaultTimeZone = tz
		},
		"brand": func(v *node) {
			if b, ok := d.str(v, "brand"); ok {
				s.Brand = b
			}
		},
		"public_url": func(v *node) {
			u, ok := d.str(v, "public_url")
			if !ok {
				return
			}
			if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
				d.errorf(v, "such as https://news.example.com", "public_url: bad URL %q", u)
				return
			}
			s.PublicURL = strings.TrimSuffix(u, "/")
		},
		"email_from": func(v *node) {
			f, ok := d.str(v, "email_from")
			if !ok {
				return
			}
			if _, err := mail.ParseAddress(f); err != nil {
				d.errorf(v, `such as "Tidings Tea <news@tea.example>"`, "email_from: bad address %q", f)
				return
			}
			s.EmailFrom = f
		},
		"delivery": func(v *node) {
			d.fields(v, "delivery", map[string]func(*node){
				"batch_size": func(x *node) {
					d.intRange(x, "delivery.batch_size", 1, 5000, &s.Delivery.BatchSize)
				},
				"sending_timeout": func(x *node) {
					d.goDuration(x, "delivery.sending_timeout", time.Second, 24*time.Hour, "10m", &s.Delivery.SendingTimeout)
				},
				"max_retries": func(x *node) {
					d.intRange(x, "delivery.max_retries", 0, 100, &s.Delivery.MaxRetries)
				},
				"outbox_delay": func(x *node) {
					d.goDuration(x, "delivery.outbox_delay", 0, time.Minute, "5ms", &s.Delivery.OutboxDelay)
				},
				"unknown_campaign_grace": func(x *node) {
					d.goDuration(x, "delivery.unknown_campaign_grace", 0, 30*24*time.Hour, "24h", &s.Delivery.UnknownCampaignGrace)
				},
				"outbox": func(x *node) {
					if o, ok := d.str(x, "delivery.outbox"); ok {
						s.Delivery.Outbox = o
					}
				},
			})
		},
		"channels":      func(v *node) { d.channelSettings(v, &s.Channels) },
		"frequency_cap": func(v *node) { d.frequencyCap(v, "frequency_cap", &s.FrequencyCap) },
		"trusted_proxies": func(v *node) {
			items, nodes, _ := d.strList(v, "trusted_proxies")
			s.TrustedProxies = nil
			for i, it := range items {
				p, err := netip.ParsePrefix(it)
				if err != nil {
					a, aerr := netip.ParseAddr(it)
					if aerr != nil {
						d.errorf(nodes[i], "an address or a CIDR range, such as 10.0.0.0/8 or 192.0.2.7", "trusted_proxies[%d]: bad address %q", i, it)
						continue
					}
					p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
				}
				s.TrustedProxies = append(s.TrustedProxies, p.Masked())
			}
		},
		"phone_region": func(v *node) {
			r, ok := d.str(v, "phone_region")
			if !ok {
				return
			}
			if len(r) != 2 || strings.ToUpper(r) != r {
				d.errorf(v, "a two-letter ISO 3166 region such as CN or US", "phone_region: bad region %q", r)
				return
			}
			s.PhoneRegion = r
		},
	})
}

// intRange decodes a whole number within [lo, hi] into dst.
func (d decoder) intRange(n *node, what string, lo, hi int64, dst *int) {
	i, ok := d.integer(n, what)
	if !ok {
		return
	}
	if i < lo || i > hi {
		d.errorf(n, "", "%s: %d is out of range %d..%d", what, i, lo, hi)
		return
	}
	*dst = int(i)
}

// goDuration decodes a Go duration ("10m", "5ms") within [lo, hi] into dst.
func (d decoder) goDuration(n *node, what string, lo, hi time.Duration, example string, dst *time.Duration) {
	str, ok := d.str(n, what)
	if !ok {
		return
	}
	dur, err := time.ParseDuration(str)
	if err != nil || dur < lo || dur > hi {
		d.errorf(n, fmt.Sprintf("such as %s, between %s and %s", example, lo, hi), "%s: bad duration %q", what, str)
		return
	}
	*dst = dur
}

// crossCheckSettings checks what one key requires of another.
func (d decoder) crossCheckSettings(n *node, s *Settings) {
	if s.Channels.Email.SMTP != nil && !strings.HasPrefix(s.PublicURL, "https://") {
		at := n
		for _, p := range n.pairs {
			if p.key.value == "public_url" || (at == n && p.key.value == "channels") {
				at = p.val
			}
		}
		d.errorf(at, "one-click unsubscribe (RFC 8058) needs an https:// link; set public_url to where customers reach Tidings",
			"public_url: %q is not https, and email goes out through channels.email.smtp", s.PublicURL)
	}
}

// yamlFiles lists dir/sub/*.yaml and *.yml in name order. A missing folder
// is no error: a project may have no campaigns yet.
func yamlFiles(dir, sub string, errs *Errors) []string {
	entries, err := os.ReadDir(filepath.Join(dir, sub))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			*errs = append(*errs, &Error{Pos: Pos{File: filepath.Join(dir, sub)}, Msg: err.Error()})
		}
		return nil
	}
	var files []string
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if ext := filepath.Ext(e.Name()); ext == ".yaml" || ext == ".yml" {
			files = append(files, filepath.Join(dir, sub, e.Name()))
		}
	}
	return files
}

func readYAML(file string, errs *Errors) *node {
	src, err := os.ReadFile(file)
	if err != nil {
		*errs = append(*errs, &Error{Pos: Pos{File: file}, Msg: err.Error()})
		return nil
	}
	n, perr := parseYAML(file, src)
	if perr != nil {
		*errs = append(*errs, perr)
		return nil
	}
	if n.kind == nullNode {
		*errs = append(*errs, &Error{Pos: n.pos, Msg: "empty file"})
		return nil
	}
	return n
}

// resolveSegments links every `segment: NAME` reference, reports unknown
// names, then reports each cycle once, at the reference that closes it.
func (d decoder) resolveSegments(cfg *Config) {
	for _, name := range cfg.SegmentNames() {
		if s := cfg.Segments[name]; s.Where != nil {
			d.resolve(s.Where, cfg)
		}
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var visit func(name string, path []string)
	visit = func(name string, path []string) {
		state[name] = visiting
		path = append(path, name)
		walkRefs(cfg.Segments[name].Where, func(r *Ref) {
			if r.Segment == nil {
				return
			}
			switch state[r.Name] {
			case visiting:
				i := slices.Index(path, r.Name)
				cycle := append(append([]string{}, path[i:]...), r.Name)
				*d.errs = append(*d.errs, &Error{Pos: r.At, Msg: "segment: cycle " + strings.Join(cycle, " -> "), Hint: "a segment cannot include itself"})
				r.Segment = nil
			case unvisited:
				visit(r.Name, path)
			}
		})
		state[name] = done
	}
	for _, name := range cfg.SegmentNames() {
		if state[name] == unvisited {
			visit(name, nil)
		}
	}
}

func (d decoder) resolve(c Condition, cfg *Config) {
	walkRefs(c, func(r *Ref) {
		if seg, ok := cfg.Segments[r.Name]; ok {
			r.Segment = seg
		} else {
			d.unknownSegment(r.At, "segment", r.Name, cfg)
		}
	})
}

// walkRefs calls fn for each reference in c, in order, without following them.
func walkRefs(c Condition, fn func(*Ref)) {
	switch c := c.(type) {
	case *All:
		for _, x := range c.Of {
			walkRefs(x, fn)
		}
	case *Any:
		for _, x := range c.Of {
			walkRefs(x, fn)
		}
	case *Not:
		walkRefs(c.Cond, fn)
	case *Ref:
		fn(c)
	}
}

func (d decoder) unknownSegment(at Pos, what, name string, cfg *Config) {
	hint := suggest(name, cfg.SegmentNames())
	if hint == "" && len(cfg.Segments) > 0 {
		hint = "segments: " + strings.Join(cfg.SegmentNames(), ", ")
	}
	*d.errs = append(*d.errs, &Error{Pos: at, Msg: fmt.Sprintf("%s: unknown segment %q", what, name), Hint: hint})
}

package templates

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	texttemplate "text/template"
	"text/template/parse"
	"unicode/utf8"

	"github.com/tidings/tidings/customer"
)

// The channels a template can serve.
const (
	channelEmail = "email"
	channelSMS   = "sms"
)

// layoutFile is the shared HTML layout, relative to the templates folder.
const layoutFile = "_layouts/email.html"

// Message is one rendered message: Subject, Text and HTML for email (HTML
// is "" when the template has no email.html), Body for SMS.
type Message struct {
	Subject, Text, HTML, Body string
}

// A part is one kind of file in a template folder.
type part int

const (
	partSMS part = iota
	partSubject
	partText
	partHTML
	numParts
)

// partFiles are the base name and extension of each part's files:
// sms.txt, sms.<locale>.txt, email.subject.txt, ...
var partFiles = [numParts]struct{ base, ext string }{
	partSMS:     {"sms", ".txt"},
	partSubject: {"email.subject", ".txt"},
	partText:    {"email", ".txt"},
	partHTML:    {"email", ".html"},
}

func (p part) file(locale string) string {
	f := partFiles[p]
	if locale == "" {
		return f.base + f.ext
	}
	return f.base + "." + locale + f.ext
}

// variant is one parsed file: one part in one locale.
type variant struct {
	file   string // relative to the templates folder: "birthday-gift/sms.zh.txt"
	locale string // as written in the file name, canonical case; "" for the default
	text   *texttemplate.Template
	html   *htmltemplate.Template // executes the layout, if any, around the body
	// size is the length of its last output: a marketing email's HTML is
	// several kilobytes, and a builder grown to it at once saves the
	// copies of growing it step by step, on every message.
	size atomic.Int64
}

func (v *variant) execute(w io.Writer, d Data) error {
	if v.html != nil {
		return v.html.Execute(w, d)
	}
	return v.text.Execute(w, d)
}

// tmpl is one template folder.
type tmpl struct {
	name  string
	parts [numParts]map[string]*variant // by lower-case locale, "" for the default
	// broken are the parts with a file that did not parse (by lower-case
	// locale), in a Set from LoadPartial: Check renders the rest, and
	// reports no part missing whose file is there but broken.
	broken [numParts]map[string]bool
}

func (t *tmpl) has(p part) bool { return len(t.parts[p]) > 0 }

// present reports whether the folder has a file of p, parsed or not.
func (t *tmpl) present(p part) bool { return t.has(p) || len(t.broken[p]) > 0 }

// lookup finds the variant of p for locale, falling back from zh-Hant-TW to
// zh-Hant to zh to the default. It returns nil if there is none.
func (t *tmpl) lookup(p part, locale string) *variant {
	for _, l := range customer.LocaleFallbacks(locale) {
		if v := t.parts[p][l]; v != nil {
			return v
		}
	}
	return nil
}

// Set is every template folder under one directory, parsed once. It is
// immutable after Load and safe for concurrent use.
type Set struct {
	tmpls map[string]*tmpl
	// root is the folder given to Load, which errors name files under;
	// "" for LoadFS.
	root string
	// sources are the files' texts by path under the folder, for the
	// columns of errors.
	sources map[string]string
}

// Load parses every template folder in dir. See LoadFS; errors name files
// under dir as given (templates/birthday-gift/sms.txt:1:12: ...).
func Load(dir string) (*Set, error) {
	s, err := LoadPartial(dir)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// LoadPartial is Load for `tidings validate`, which renders what parsed
// even when other files did not: with the errors it returns the Set of
// every template folder, in which a file that did not parse is left out
// (Check skips it). Such a Set must not be used to send. It is nil only
// when dir cannot be read.
func LoadPartial(dir string) (*Set, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("load templates: %w", err)
	}
	return loadFS(os.DirFS(dir), dir)
}

// LoadFS parses every template folder at the root of fsys. Files at the
// root, and folders named testdata or starting with "_" or ".", are not
// templates. It returns all the errors it finds, joined, each an *Error
// naming its file (and line and column, where it has them); on error the
// Set is nil.
func LoadFS(fsys fs.FS) (*Set, error) {
	s, err := loadFS(fsys, "")
	if err != nil {
		return nil, err
	}
	return s, nil
}

// loadFS parses every template folder of fsys, found at root, and returns
// the Set of what parsed with every error.
func loadFS(fsys fs.FS, root string) (*Set, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("load templates: %w", err)
	}
	s := &Set{tmpls: make(map[string]*tmpl), root: root, sources: make(map[string]string)}
	var errs []error
	layout, err := s.loadLayout(fsys)
	if err != nil {
		errs = append(errs, err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || name == "testdata" || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") {
			continue
		}
		// With a broken layout the HTML bodies are still parsed, for their
		// own errors, but not rendered: the layout is part of every one.
		t, terrs := s.loadTemplate(fsys, name, layout, err != nil)
		errs = append(errs, terrs...)
		s.tmpls[name] = t
	}
	return s, errors.Join(errs...)
}

// loadLayout parses the shared HTML layout, or returns nil if there is none.
func (s *Set) loadLayout(fsys fs.FS) (*htmltemplate.Template, error) {
	src, err := s.readSource(fsys, layoutFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	layout, err := htmltemplate.New(layoutFile).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, s.positioned(err, layoutFile)
	}
	if !callsTemplate(layout.Tree.Root, "content") {
		return nil, s.fileError(layoutFile, `the layout never calls {{template "content" .}}, so no email body would show`)
	}
	return layout, nil
}

// callsTemplate reports whether the tree under n invokes the named template.
func callsTemplate(n parse.Node, name string) bool {
	switch n := n.(type) {
	case *parse.TemplateNode:
		return n.Name == name
	case *parse.ListNode:
		if n == nil {
			return false
		}
		return slices.ContainsFunc(n.Nodes, func(c parse.Node) bool { return callsTemplate(c, name) })
	case *parse.IfNode:
		return callsTemplate(n.List, name) || callsTemplate(n.ElseList, name)
	case *parse.RangeNode:
		return callsTemplate(n.List, name) || callsTemplate(n.ElseList, name)
	case *parse.WithNode:
		return callsTemplate(n.List, name) || callsTemplate(n.ElseList, name)
	}
	return false
}

// loadTemplate parses one template folder, collecting every error. With
// brokenLayout (the layout did not parse) its HTML bodies are parsed on
// their own and marked broken.
func (s *Set) loadTemplate(fsys fs.FS, name string, layout *htmltemplate.Template, brokenLayout bool) (*tmpl, []error) {
	t := &tmpl{name: name}
	entries, err := fs.ReadDir(fsys, name)
	if err != nil {
		return t, []error{s.fileError(name, "%v", err)}
	}
	var errs []error
	for _, e := range entries {
		file := path.Join(name, e.Name())
		if strings.HasPrefix(e.Name(), ".") { // editor and OS litter: .DS_Store, .sms.txt.swp
			continue
		}
		p, locale, ok := parseFileName(e.Name())
		if !ok || e.IsDir() {
			errs = append(errs, s.fileError(file, "unknown file name; a template folder holds only "+
				"sms.txt, email.subject.txt, email.txt and email.html, each optionally with a locale (sms.zh-CN.txt)"))
			continue
		}
		key := strings.ToLower(locale)
		if prev := t.parts[p][key]; prev != nil {
			errs = append(errs, s.fileError(file, "same part and locale as %s", s.path(prev.file)))
			continue
		}
		v, err := s.parseVariant(fsys, file, p, layout)
		if err == nil && p == partHTML && brokenLayout {
			v, err = nil, errBrokenLayout
		}
		if err != nil {
			if err != errBrokenLayout {
				errs = append(errs, err)
			}
			if t.broken[p] == nil {
				t.broken[p] = make(map[string]bool)
			}
			t.broken[p][key] = true
			continue
		}
		v.locale = locale
		if t.parts[p] == nil {
			t.parts[p] = make(map[string]*variant)
		}
		t.parts[p][key] = v
	}
	return t, errs
}

// parseFileName splits a file name into its part and locale (canonical
// case, "" for the default).
func parseFileName(file string) (p part, locale string, ok bool) {
	// email.subject before email, so that "subject" is never taken for a
	// locale (it could not be one anyway: a language has 2-3 letters).
	for _, p := range []part{partSubject, partSMS, partText, partHTML} {
		f := partFiles[p]
		if file == f.base+f.ext {
			return p, "", true
		}
		mid, found := strings.CutPrefix(file, f.base+".")
		if !found {
			continue
		}
		if mid, found = strings.CutSuffix(mid, f.ext); !found || mid == "" || strings.Contains(mid, ".") {
			continue
		}
		l, err := customer.Locale(mid)
		if err != nil {
			continue
		}
		return p, l, true
	}
	return 0, "", false
}

// errBrokenLayout marks an HTML body that cannot render because the
// layout, reported once, did not parse.
var errBrokenLayout = errors.New("the layout did not parse")

func (s *Set) parseVariant(fsys fs.FS, file string, p part, layout *htmltemplate.Template) (*variant, error) {
	src, err := s.readSource(fsys, file)
	if err != nil {
		return nil, err
	}
	v := &variant{file: file}
	if p != partHTML {
		// Templates are named by their path so that Go's errors name the
		// file, for positioned to find ("template: birthday-gift/sms.zh.txt:1: ...").
		v.text, err = texttemplate.New(file).Option("missingkey=error").Parse(src)
		if err != nil {
			return nil, s.positioned(err, file)
		}
		return v, nil
	}
	var root *htmltemplate.Template
	if layout == nil {
		root = htmltemplate.New(file).Option("missingkey=error")
		if _, err := root.Parse(src); err != nil {
			return nil, s.positioned(err, file)
		}
	} else {
		// Each body gets its own copy of the layout, so bodies may override
		// the layout's blocks without affecting one another. The body keeps
		// its file name, for errors, and "content" calls it.
		root, err = layout.Clone()
		if err != nil {
			return nil, s.fileError(file, "%v", err)
		}
		if _, err := root.New(file).Parse(src); err != nil {
			return nil, s.positioned(err, file)
		}
		if _, err := root.New("content").Parse(fmt.Sprintf("{{template %q .}}", file)); err != nil {
			return nil, s.fileError(file, "%v", err)
		}
	}
	// html/template escapes lazily, on the first Execute. Do it now, so a
	// body that is unsafe to escape ({{.X}} in an ambiguous context) fails
	// here rather than at send time. With nil data the execution itself
	// stops at the first field; only an escaping error matters.
	var escErr *htmltemplate.Error
	if err := root.Execute(io.Discard, nil); errors.As(err, &escErr) {
		return nil, s.positioned(err, file)
	}
	v.html = root
	return v, nil
}

// readSource reads a template file as UTF-8 text, without a byte order
// mark, and keeps it for the columns of its errors.
func (s *Set) readSource(fsys fs.FS, file string) (string, error) {
	b, err := fs.ReadFile(fsys, file)
	if err != nil {
		return "", s.fileError(file, "%v", err) // errors.Is(err, fs.ErrNotExist) still holds
	}
	b = bytes.TrimPrefix(b, []byte("\uFEFF")) // Windows editors add one, and it would be sent
	if !utf8.Valid(b) {
		return "", s.fileError(file, "not UTF-8 text (save the file as UTF-8)")
	}
	s.sources[file] = string(b)
	return string(b), nil
}

// Names returns the names of the templates, sorted.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.tmpls))
	for n := range s.tmpls {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Has reports whether there is a template folder called name.
func (s *Set) Has(name string) bool {
	_, ok := s.tmpls[name]
	return ok
}

// Channels returns the channels the template can serve, in the order email,
// sms: "email" when it has a subject and a plain-text body (in any locale),
// "sms" when it has an SMS body.
func (s *Set) Channels(name string) []string {
	t := s.tmpls[name]
	if t == nil {
		return nil
	}
	var ch []string
	if t.present(partSubject) && t.present(partText) {
		ch = append(ch, channelEmail)
	}
	if t.present(partSMS) {
		ch = append(ch, channelSMS)
	}
	return ch
}

// Locales returns "" for the default followed by every locale, sorted, that
// has at least one file of the template.
func (s *Set) Locales(name string) []string {
	t := s.tmpls[name]
	if t == nil {
		return nil
	}
	seen := map[string]bool{"": true}
	locales := []string{}
	for _, vs := range t.parts {
		for key, v := range vs {
			if !seen[key] {
				seen[key] = true
				locales = append(locales, v.locale)
			}
		}
	}
	sort.Strings(locales)
	return append([]string{""}, locales...)
}

// Render renders the template name for channel ("email" or "sms") in the
// variant that best matches locale, with d as the dot. Each part (subject,
// text, HTML, SMS body) falls back on its own: zh-CN, then zh, then the
// default file. Render is safe for concurrent use.
func (s *Set) Render(name, channel, locale string, d Data) (Message, error) {
	t := s.tmpls[name]
	if t == nil {
		return Message{}, fmt.Errorf("template %q not found", name)
	}
	var parts []part
	switch channel {
	case channelEmail:
		parts = []part{partSubject, partText, partHTML}
	case channelSMS:
		parts = []part{partSMS}
	default:
		return Message{}, fmt.Errorf("template %q: unknown channel %q (want email or sms)", name, channel)
	}
	var m Message
	for _, p := range parts {
		v := t.lookup(p, locale)
		if v == nil {
			if p == partHTML {
				continue // optional
			}
			return Message{}, fmt.Errorf("template %q has %s", t.name, missingPart(t, p, locale))
		}
		out, err := s.render(v, p, d)
		if err != nil {
			return Message{}, err
		}
		switch p {
		case partSMS:
			m.Body = out
		case partSubject:
			m.Subject = out
		case partText:
			m.Text = out
		case partHTML:
			m.HTML = out
		}
	}
	return m, nil
}

// missingPart says which file of p for locale the folder lacks: "no
// sms.txt (or sms.<locale>.txt)".
func missingPart(t *tmpl, p part, locale string) string {
	if !t.has(p) {
		return fmt.Sprintf("no %s (or %s)", p.file(""), p.file("<locale>"))
	}
	files := make([]string, 0, len(t.parts[p]))
	for _, v := range t.parts[p] {
		files = append(files, path.Base(v.file))
	}
	sort.Strings(files)
	return fmt.Sprintf("no %s for locale %q (only %s)", p.file(""), locale, strings.Join(files, ", "))
}

// render executes one variant and applies the part's rules.
func (s *Set) render(v *variant, p part, d Data) (string, error) {
	var b strings.Builder
	b.Grow(int(v.size.Load()) + 256) // room for a longer name
	if err := v.execute(&b, d); err != nil {
		return "", s.positioned(err, v.file)
	}
	out := b.String()
	v.size.Store(int64(len(out)))
	switch p {
	case partHTML:
		return out, nil
	case partText:
		out = strings.TrimSpace(out)
		if out == "" {
			return "", s.fileError(v.file, "the email body is empty")
		}
		return out + "\n", nil
	case partSubject:
		out = strings.TrimSpace(out)
		if out == "" {
			return "", s.fileError(v.file, "the subject is empty")
		}
		// A line break in a subject would end the header and start another:
		// a header injection if it came from customer data.
		if strings.ContainsAny(out, "\r\n") {
			return "", s.fileError(v.file, "the subject has a line break (%q); it must be one line", out)
		}
		return out, nil
	default:
		out = strings.TrimSpace(out)
		if out == "" {
			return "", s.fileError(v.file, "the SMS body is empty")
		}
		return out, nil
	}
}

// Check renders every locale variant of every part the given channels use,
// each with SampleData for its locale ("en" for the default variant) and a
// coupon only if withCoupon, and returns every error. A missing required
// part is an error too, as is a part with locale variants but no default
// file, which would fail for a customer of any other locale. With no
// channels, Check checks every channel the template has.
func (s *Set) Check(name string, channels []string, withCoupon bool) []error {
	t := s.tmpls[name]
	if t == nil {
		return []error{fmt.Errorf("template %q not found", name)}
	}
	if len(channels) == 0 {
		channels = s.Channels(name)
		if len(channels) == 0 {
			return []error{s.fileError(name, "no sms.txt, and no email.subject.txt with email.txt")}
		}
	}
	var errs []error
	checked := make(map[part]bool)
	for _, ch := range channels {
		var parts []part
		switch ch {
		case channelEmail:
			parts = []part{partSubject, partText, partHTML}
		case channelSMS:
			parts = []part{partSMS}
		default:
			errs = append(errs, s.fileError(name, "unknown channel %q (want email or sms)", ch))
			continue
		}
		for _, p := range parts {
			if checked[p] {
				continue
			}
			checked[p] = true
			errs = append(errs, s.checkPart(t, p, withCoupon)...)
		}
	}
	return errs
}

func (s *Set) checkPart(t *tmpl, p part, withCoupon bool) []error {
	if !t.present(p) {
		if p == partHTML {
			return nil
		}
		return []error{s.fileError(t.name, "%s", missingPart(t, p, ""))}
	}
	var errs []error
	if t.parts[p][""] == nil && !t.broken[p][""] && p != partHTML {
		errs = append(errs, s.fileError(t.name, "no default %s, so customers of other locales get no message (it has only locale variants)", p.file("")))
	}
	keys := make([]string, 0, len(t.parts[p]))
	for k := range t.parts[p] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := t.parts[p][k]
		locale := v.locale
		if locale == "" {
			locale = "en"
		}
		d := SampleData(locale, withCoupon)
		d.Campaign = t.name
		out, err := s.render(v, p, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// Marketing email must carry a visible way out: the List-Unsubscribe
		// header is not enough for the laws (CAN-SPAM, PECR) or the reader.
		if (p == partText || p == partHTML) && !strings.Contains(out, d.UnsubscribeURL) {
			errs = append(errs, s.fileError(v.file, "does not show the unsubscribe link; add {{.UnsubscribeURL}} (the email layout shows it for HTML)"))
		}
	}
	return errs
}

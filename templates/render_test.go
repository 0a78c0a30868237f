package templates

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenLocales are the customer locales every sample template is rendered
// in: two that pick the zh files, two that pick the default English ones,
// and one with no variant at all.
var goldenLocales = []string{"zh-CN", "zh-TW", "en-US", "en-GB", "fr-FR"}

// loadSamples loads the templates marketers edit, which live beside this
// file.
func loadSamples(t *testing.T) *Set {
	t.Helper()
	s, err := Load(".")
	if err != nil {
		t.Fatalf("Load(.): %v", err)
	}
	return s
}

func TestGolden(t *testing.T) {
	s := loadSamples(t)
	const dir = "testdata/golden"
	want := []string{"birthday-gift", "new-product", "new-product-reminder", "spring-festival"}
	if got := s.Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %q, want %q", got, want)
	}
	written := make(map[string]bool)
	for _, name := range s.Names() {
		for _, ch := range s.Channels(name) {
			for _, locale := range goldenLocales {
				m, err := s.Render(name, ch, locale, SampleData(locale, true))
				if err != nil {
					t.Errorf("Render(%s, %s, %s): %v", name, ch, locale, err)
					continue
				}
				files := map[string]string{}
				if ch == "sms" {
					files["sms."+locale+".txt"] = m.Body + "\n"
				} else {
					files["email."+locale+".subject.txt"] = m.Subject + "\n"
					files["email."+locale+".txt"] = m.Text
					files["email."+locale+".html"] = m.HTML
				}
				for f, got := range files {
					golden := filepath.Join(dir, name, f)
					written[golden] = true
					checkGolden(t, golden, got)
				}
			}
		}
	}
	// A golden file no render produced is left over from a removed template
	// or locale; it would otherwise rot unnoticed.
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || written[path] {
			return err
		}
		if *update {
			return os.Remove(path)
		}
		t.Errorf("%s: stale golden file (run go test -update)", path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update after checking the change):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestSamplesCheck(t *testing.T) {
	s := loadSamples(t)
	for _, name := range s.Names() {
		if errs := s.Check(name, s.Channels(name), true); len(errs) > 0 {
			t.Errorf("Check(%s) with a coupon: %v", name, errors.Join(errs...))
		}
	}
	// Only the birthday gift has a coupon; the others must work without one.
	for _, name := range []string{"spring-festival", "new-product"} {
		if errs := s.Check(name, s.Channels(name), false); len(errs) > 0 {
			t.Errorf("Check(%s) without a coupon: %v", name, errors.Join(errs...))
		}
	}
	// The birthday gift shows the coupon in every part, so without one every
	// variant fails, each naming its file.
	errs := s.Check("birthday-gift", []string{"sms", "email"}, false)
	for _, f := range []string{"sms.txt", "sms.zh.txt", "email.subject.txt", "email.subject.zh.txt",
		"email.txt", "email.zh.txt", "email.html", "email.zh.html"} {
		if !slices.ContainsFunc(errs, func(err error) bool {
			return strings.Contains(err.Error(), "birthday-gift/"+f+":") && strings.Contains(err.Error(), "CouponValue")
		}) {
			t.Errorf("Check(birthday-gift) without a coupon: no error for %s in %v", f, errs)
		}
	}
}

func TestSampleChannels(t *testing.T) {
	s := loadSamples(t)
	for name, want := range map[string][]string{
		"spring-festival": {"sms"},
		"birthday-gift":   {"email", "sms"},
		"new-product":     {"email"},
	} {
		if got := s.Channels(name); !slices.Equal(got, want) {
			t.Errorf("Channels(%s) = %q, want %q", name, got, want)
		}
		if got := s.Locales(name); !slices.Equal(got, []string{"", "zh"}) {
			t.Errorf("Locales(%s) = %q, want [\"\" \"zh\"]", name, got)
		}
	}
}

// A Chinese SMS of up to 70 characters goes as one UCS-2 segment; longer
// ones are split into 67-character parts, each billed. The birthday SMS
// keeps its text, without the opt-out footer 回T退订, within 70 characters
// for the sample customer (a three-character name and the brand "Tidings
// Tea"); the footer is counted too, and also fits.
func TestSMSLength(t *testing.T) {
	s := loadSamples(t)
	for _, tc := range []struct {
		name, locale, footer string
		max                  int
	}{
		{"birthday-gift", "zh-CN", "回T退订", 70},
		{"spring-festival", "zh-CN", "回T退订", 70},
		{"birthday-gift", "en-GB", "Reply STOP to opt out", 160},
		{"spring-festival", "en-GB", "Reply STOP to opt out", 160},
	} {
		m, err := s.Render(tc.name, "sms", tc.locale, SampleData(tc.locale, true))
		if err != nil {
			t.Fatal(err)
		}
		text, ok := strings.CutSuffix(m.Body, tc.footer)
		if !ok {
			t.Errorf("%s %s: body %q does not end with the opt-out footer %q", tc.name, tc.locale, m.Body, tc.footer)
		}
		if n := utf8.RuneCountInString(text); n > tc.max {
			t.Errorf("%s %s: %d characters before the footer, want at most %d: %q", tc.name, tc.locale, n, tc.max, text)
		}
		t.Logf("%s %s: %d characters with the footer", tc.name, tc.locale, utf8.RuneCountInString(m.Body))
	}
}

func TestFallback(t *testing.T) {
	s, err := Load("testdata/fallback")
	if err != nil {
		t.Fatal(err)
	}
	// testdata/fallback/greet has sms in default, zh, zh-CN and en; subject
	// in default and zh-TW; text in default and zh; HTML only in en-GB.
	for _, tc := range []struct {
		locale                   string
		sms, subject, text, html string
	}{
		{"zh-CN", "zh-CN", "subject default", "text zh", ""},
		{"zh-cn", "zh-CN", "subject default", "text zh", ""},
		{"ZH_CN", "zh-CN", "subject default", "text zh", ""},
		{"zh-TW", "zh", "subject zh-TW", "text zh", ""},
		{"zh-tw", "zh", "subject zh-TW", "text zh", ""},
		{"zh-Hant-TW", "zh", "subject default", "text zh", ""},
		{"zh", "zh", "subject default", "text zh", ""},
		{"en-GB", "en", "subject default", "text default", "<p>html en-GB</p>\n"},
		{"en-gb", "en", "subject default", "text default", "<p>html en-GB</p>\n"},
		{"en-US", "en", "subject default", "text default", ""},
		{"en", "en", "subject default", "text default", ""},
		{"fr-FR", "default", "subject default", "text default", ""},
		{" ", "default", "subject default", "text default", ""},
		{"", "default", "subject default", "text default", ""},
	} {
		t.Run(tc.locale, func(t *testing.T) {
			d := SampleData(tc.locale, false)
			sms, err := s.Render("greet", "sms", tc.locale, d)
			if err != nil {
				t.Fatal(err)
			}
			email, err := s.Render("greet", "email", tc.locale, d)
			if err != nil {
				t.Fatal(err)
			}
			got := Message{Subject: email.Subject, Text: email.Text, HTML: email.HTML, Body: sms.Body}
			want := Message{Subject: tc.subject, Text: tc.text + "\n", HTML: tc.html, Body: tc.sms}
			if got != want {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
	if got, want := s.Locales("greet"), []string{"", "en", "en-GB", "zh", "zh-CN", "zh-TW"}; !slices.Equal(got, want) {
		t.Errorf("Locales = %q, want %q", got, want)
	}
	if s.Locales("nope") != nil || s.Channels("nope") != nil || s.Has("nope") || !s.Has("greet") {
		t.Error("Has, Locales or Channels wrong for an unknown template")
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load("testdata/errors")
	if err == nil {
		t.Fatal("Load succeeded")
	}
	// Every bad file of every folder is reported, in folder and file order.
	want := []string{
		`testdata/errors/badhtml/email.html:2:1: unexpected EOF`,
		`testdata/errors/escape/email.html: ends in a non-text context: a tag, attribute or quote is left open`,
		`testdata/errors/typo/email.txt:3:5: bad character U+007D '}'`,
		`testdata/errors/typo/sms.txt:1:33: function "cupon" not defined`,
		`testdata/errors/unknown/emial.txt: unknown file name; a template folder holds only sms.txt, email.subject.txt, email.txt and email.html, each optionally with a locale (sms.zh-CN.txt)`,
		`testdata/errors/unknown/sms.txt.bak: unknown file name; a template folder holds only sms.txt, email.subject.txt, email.txt and email.html, each optionally with a locale (sms.zh-CN.txt)`,
	}
	got := strings.Split(err.Error(), "\n")
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(got), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	var multi interface{ Unwrap() []error }
	if !errors.As(err, &multi) || len(multi.Unwrap()) != len(want) {
		t.Errorf("error is not a join of %d errors: %#v", len(want), err)
	}

	if _, err := Load("testdata/no-such-dir"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing folder: %v, want fs.ErrNotExist", err)
	}
}

func TestLoadFileNames(t *testing.T) {
	for _, tc := range []struct {
		file string
		ok   bool
	}{
		{"sms.txt", true},
		{"sms.zh.txt", true},
		{"sms.zh-CN.txt", true},
		{"sms.zh_cn.txt", true},
		{"sms.zh-Hant-TW.txt", true},
		{"email.subject.txt", true},
		{"email.subject.en-GB.txt", true},
		{"email.txt", true},
		{"email.en.txt", true},
		{"email.html", true},
		{"email.zh.html", true},
		{".DS_Store", true}, // hidden files are skipped
		{"sms.txt.bak", false},
		{"emial.txt", false},
		{"sms.html", false},
		{"sms..txt", false},
		{"sms.chinese.txt", false},
		{"email.zh.subject.txt", false},
		{"email.htm", false},
		{"SMS.txt", false},
		{"README.md", false},
		{"sms.txt~", false},
	} {
		_, err := LoadFS(fstest.MapFS{"x/" + tc.file: {Data: []byte("Hi")}})
		if tc.ok && err != nil {
			t.Errorf("%s: %v", tc.file, err)
		}
		if !tc.ok && (err == nil || !strings.HasPrefix(err.Error(), "x/"+tc.file+": unknown file name")) {
			t.Errorf("%s: error %v, want unknown file name", tc.file, err)
		}
	}

	// Two spellings of one locale are one variant too many.
	_, err := LoadFS(fstest.MapFS{
		"x/sms.zh-CN.txt": {Data: []byte("a")},
		"x/sms.zh-cn.txt": {Data: []byte("b")},
	})
	if err == nil || err.Error() != "x/sms.zh-cn.txt: same part and locale as x/sms.zh-CN.txt" {
		t.Errorf("duplicate locale: %v", err)
	}

	// Not templates: files at the top, testdata, _layouts, hidden folders.
	s, err := LoadFS(fstest.MapFS{
		"render.go":             {Data: []byte("package templates")},
		"testdata/golden/a.txt": {Data: []byte("x")},
		"_drafts/sms.txt.old":   {Data: []byte("x")},
		".git/config":           {Data: []byte("x")},
		"hello/sms.txt":         {Data: []byte("\ufeffHi")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Names(); !slices.Equal(got, []string{"hello"}) {
		t.Errorf("Names = %q, want [hello]", got)
	}
	// A byte order mark from a Windows editor is not sent.
	if m, err := s.Render("hello", "sms", "", SampleData("en", false)); err != nil || m.Body != "Hi" {
		t.Errorf("Render = %q, %v; want Hi", m.Body, err)
	}

	_, err = LoadFS(fstest.MapFS{"x/sms.txt": {Data: []byte("Hi \xff")}})
	if err == nil || err.Error() != "x/sms.txt: not UTF-8 text (save the file as UTF-8)" {
		t.Errorf("non-UTF-8 file: %v", err)
	}
}

func TestCheckErrors(t *testing.T) {
	s, err := Load("testdata/check")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		channels   []string
		withCoupon bool
		want       []string // one per error, in order
	}{
		{"nocoupon", []string{"sms"}, true, nil},
		{"nocoupon", []string{"sms"}, false, []string{
			`testdata/check/nocoupon/sms.txt:1:21: {{.Coupon.Code}}: nil pointer evaluating *templates.Coupon.Code`,
			`testdata/check/nocoupon/sms.zh.txt:1:8: {{.CouponValue}}: error calling CouponValue: no coupon: the campaign has no gift`,
		}},
		{"badfield", nil, true, []string{
			`testdata/check/badfield/sms.txt:1:15: {{.Customer.Nmae}}: can't evaluate field Nmae in type templates.Customer`,
			`testdata/check/badfield/sms.zh.txt:2:12: {{.Customer.Nmae}}: can't evaluate field Nmae in type templates.Customer`,
		}},
		{"missingkey", []string{"sms"}, true, []string{
			`testdata/check/missingkey/sms.txt:1:23: {{.Customer.Attributes.shoe_size}}: map has no entry for key "shoe_size"`,
		}},
		{"onlyzh", []string{"sms"}, false, []string{
			`testdata/check/onlyzh: no default sms.txt, so customers of other locales get no message (it has only locale variants)`,
		}},
		{"emailnotext", []string{"email"}, false, []string{
			`testdata/check/emailnotext: no email.txt (or email.<locale>.txt)`,
		}},
		{"emailnotext", []string{"sms", "email", "fax"}, false, []string{
			`testdata/check/emailnotext: no sms.txt (or sms.<locale>.txt)`,
			`testdata/check/emailnotext: no email.txt (or email.<locale>.txt)`,
			`testdata/check/emailnotext: unknown channel "fax" (want email or sms)`,
		}},
		{"emailnotext", nil, false, []string{
			`testdata/check/emailnotext: no sms.txt, and no email.subject.txt with email.txt`,
		}},
		{"nounsubscribe", []string{"email"}, false, []string{
			`testdata/check/nounsubscribe/email.txt: does not show the unsubscribe link; add {{.UnsubscribeURL}} (the email layout shows it for HTML)`,
		}},
		{"emptysms", []string{"sms"}, false, []string{
			`testdata/check/emptysms/sms.txt: the SMS body is empty`,
		}},
		{"nosuch", []string{"sms"}, false, []string{
			`template "nosuch" not found`,
		}},
	} {
		t.Run(fmt.Sprint(tc.name, tc.channels, tc.withCoupon), func(t *testing.T) {
			errs := s.Check(tc.name, tc.channels, tc.withCoupon)
			got := make([]string, len(errs))
			for i, err := range errs {
				got[i] = err.Error()
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	s, err := LoadFS(fstest.MapFS{
		"sms-only/sms.txt":            {Data: []byte("Hi {{.Customer.Attributes.city}}")},
		"zh-only/sms.zh.txt":          {Data: []byte("你好")},
		"subject/email.subject.txt":   {Data: []byte("Hi {{.Customer.Name}}")},
		"subject/email.txt":           {Data: []byte("Hello")},
		"empty/email.subject.txt":     {Data: []byte("{{.Attr \"x\" \"\"}}  \n")},
		"empty/email.txt":             {Data: []byte("Hello")},
		"emptybody/email.subject.txt": {Data: []byte("Hi")},
		"emptybody/email.txt":         {Data: []byte("\n\n")},
		"trimmed/sms.txt":             {Data: []byte("{{/* a note for marketers */}}\n  Hi there  \n\n")},
		"trimmed/email.subject.txt":   {Data: []byte("\n Hi there \n")},
		"trimmed/email.txt":           {Data: []byte("\nHello\n\n\n")},
		"trimmed/email.html":          {Data: []byte("<p>Hello</p>\n\n")},
		"nohtml/email.subject.txt":    {Data: []byte("Hi")},
		"nohtml/email.txt":            {Data: []byte("Hello")},
		"nohtml/email.zh.html":        {Data: []byte("<p>你好</p>")},
		"multiline/email.subject.txt": {Data: []byte("Hi\n{{.Brand}}\n")},
		"multiline/email.txt":         {Data: []byte("Hello")},
		"attrs/sms.txt":               {Data: []byte(`{{.Attr "city" "your city"}} / {{.Attr "shoe" "?"}} / {{.Attr "points" 0}}`)},
		"nocoupon/sms.txt":            {Data: []byte(`{{.CouponValidUntil}}`)},
		"nocoupon/email.subject.txt":  {Data: []byte(`{{with .Coupon}}{{.Code}}{{else}}No gift{{end}}`)},
		"nocoupon/email.txt":          {Data: []byte(`{{if .Coupon}}{{$.CouponValue}}{{else}}Just hello{{end}}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	noCity := SampleData("en-GB", false)
	delete(noCity.Customer.Attributes, "city")
	for _, tc := range []struct {
		name, channel, locale string
		d                     Data
		want                  Message
		err                   string
	}{
		{name: "nope", channel: "sms", err: `template "nope" not found`},
		{name: "sms-only", channel: "email", err: `template "sms-only" has no email.subject.txt (or email.subject.<locale>.txt)`},
		{name: "sms-only", channel: "push", err: `template "sms-only": unknown channel "push" (want email or sms)`},
		{name: "subject", channel: "sms", err: `template "subject" has no sms.txt (or sms.<locale>.txt)`},
		{name: "zh-only", channel: "sms", locale: "en-US", err: `template "zh-only" has no sms.txt for locale "en-US" (only sms.zh.txt)`},
		{name: "zh-only", channel: "sms", locale: "zh-HK", want: Message{Body: "你好"}},
		{name: "sms-only", channel: "sms", locale: "en-GB", d: noCity,
			err: `sms-only/sms.txt:1:15: {{.Customer.Attributes.city}}: map has no entry for key "city"`},
		{name: "sms-only", channel: "sms", locale: "en-GB", d: SampleData("en-GB", false), want: Message{Body: "Hi London"}},
		{name: "empty", channel: "email", err: `empty/email.subject.txt: the subject is empty`},
		{name: "emptybody", channel: "email", err: `emptybody/email.txt: the email body is empty`},
		{name: "trimmed", channel: "sms", want: Message{Body: "Hi there"}},
		{name: "trimmed", channel: "email", want: Message{Subject: "Hi there", Text: "Hello\n", HTML: "<p>Hello</p>\n\n"}},
		{name: "nohtml", channel: "email", locale: "en", want: Message{Subject: "Hi", Text: "Hello\n"}},
		{name: "nohtml", channel: "email", locale: "zh-CN", want: Message{Subject: "Hi", Text: "Hello\n", HTML: "<p>你好</p>"}},
		{name: "multiline", channel: "email", d: SampleData("en", false), err: `multiline/email.subject.txt: the subject has a line break ("Hi\nTidings Tea"); it must be one line`},
		{name: "attrs", channel: "sms", d: noCity, want: Message{Body: "your city / ? / 2680"}},
		{name: "nocoupon", channel: "email", d: SampleData("en", false), want: Message{Subject: "No gift", Text: "Just hello\n"}},
		{name: "nocoupon", channel: "email", d: SampleData("zh", true), want: Message{Subject: "BDAY-7QK2M9", Text: "¥50\n"}},
		{name: "nocoupon", channel: "sms", d: SampleData("en", false),
			err: `nocoupon/sms.txt:1:3: {{.CouponValidUntil}}: error calling CouponValidUntil: no coupon: the campaign has no gift`},
	} {
		t.Run(tc.name+"/"+tc.channel+"/"+tc.locale, func(t *testing.T) {
			got, err := s.Render(tc.name, tc.channel, tc.locale, tc.d)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Errorf("error %v\nwant  %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// A customer's name is data a stranger controls (a sign-up form): in HTML
// it must be escaped, in a subject it must not break the header.
func TestHostileCustomerData(t *testing.T) {
	s, err := LoadFS(fstest.MapFS{
		"_layouts/email.html":       {Data: []byte(`<html><title>{{.Brand}}</title>{{template "content" .}}<a href="{{.UnsubscribeURL}}">x</a></html>`)},
		"hi/email.subject.txt":      {Data: []byte(`Hi {{.Customer.Name}}`)},
		"hi/email.txt":              {Data: []byte(`Hi {{.Customer.Name}}`)},
		"hi/email.html":             {Data: []byte(`<p title="{{.Customer.Name}}">Hi {{.Customer.Name}}</p><a href="{{.Attr "site" ""}}">site</a>`)},
		"hi/sms.txt":                {Data: []byte(`Hi {{.Customer.Name}}`)},
		"subject/email.subject.txt": {Data: []byte(`Hi {{.FirstName}}`)},
		"subject/email.txt":         {Data: []byte(`Hi`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := SampleData("en", false)
	d.Customer.Name = `<script>alert(1)</script>`
	d.Customer.Attributes["site"] = "javascript:alert(2)"
	d.Brand = `Tea & "Co" <b>`
	d.UnsubscribeURL = `https://example.com/u?a=1&b="2"`
	m, err := s.Render("hi", "email", "en", d)
	if err != nil {
		t.Fatal(err)
	}
	const wantHTML = `<html><title>Tea &amp; &#34;Co&#34; &lt;b&gt;</title>` +
		`<p title="&lt;script&gt;alert(1)&lt;/script&gt;">Hi &lt;script&gt;alert(1)&lt;/script&gt;</p>` +
		`<a href="#ZgotmplZ">site</a>` +
		`<a href="https://example.com/u?a=1&amp;b=%222%22">x</a></html>`
	if m.HTML != wantHTML {
		t.Errorf("HTML:\n got %s\nwant %s", m.HTML, wantHTML)
	}
	if want := "Hi <script>alert(1)</script>"; m.Subject != want || m.Text != want+"\n" {
		t.Errorf("text parts are escaped: subject %q, text %q", m.Subject, m.Text)
	}
	if m, _ := s.Render("hi", "sms", "en", d); m.Body != "Hi <script>alert(1)</script>" {
		t.Errorf("SMS escaped: %q", m.Body)
	}

	for _, name := range []string{"Eve\r\nBcc: all@example.com", "Eve\nBcc: all@example.com", "Eve\rX"} {
		d.Customer.Name = name
		if _, err := s.Render("hi", "email", "en", d); err == nil || !strings.Contains(err.Error(), "hi/email.subject.txt: the subject has a line break") {
			t.Errorf("name %q: error %v, want a line break error", name, err)
		}
	}
	// A line break at the end is trimmed, not an error.
	d.Customer.Name = "Eve Smith\r\n"
	if m, err := s.Render("subject", "email", "en", d); err != nil || m.Subject != "Hi Eve" {
		t.Errorf("got %q, %v; want Hi Eve", m.Subject, err)
	}
}

func TestLayout(t *testing.T) {
	body := map[string]*fstest.MapFile{
		"a/email.subject.txt": {Data: []byte("Hi")},
		"a/email.txt":         {Data: []byte("Hi")},
		"a/email.html":        {Data: []byte(`<p>Hello</p>`)},
		"a/email.zh.html":     {Data: []byte(`{{define "footer"}}页脚{{end}}<p>你好</p>`)},
		"b/email.subject.txt": {Data: []byte("Hi")},
		"b/email.txt":         {Data: []byte("Hi")},
		"b/email.html":        {Data: []byte("<p>{{.Brand}}</p>\n<p>{{.Customer.Nmae}}</p>")},
	}
	fsys := func(layout string) fstest.MapFS {
		m := fstest.MapFS{"_layouts/email.html": {Data: []byte(layout)}}
		for k, v := range body {
			m[k] = v
		}
		return m
	}

	s, err := LoadFS(fsys(`<main>{{template "content" .}}</main><footer>{{block "footer" .}}Footer{{end}}</footer>`))
	if err != nil {
		t.Fatal(err)
	}
	for locale, want := range map[string]string{
		"en": `<main><p>Hello</p></main><footer>Footer</footer>`,
		"zh": `<main><p>你好</p></main><footer>页脚</footer>`,
	} {
		// Rendering zh first must not leak its footer into other bodies.
		m, err := s.Render("a", "email", locale, SampleData(locale, false))
		if err != nil || m.HTML != want {
			t.Errorf("%s: got %q, %v; want %q", locale, m.HTML, err, want)
		}
	}
	// An error in the body names the body's file, not the layout.
	_, err = s.Render("b", "email", "en", SampleData("en", false))
	if want := `b/email.html:2:15: {{.Customer.Nmae}}: can't evaluate field Nmae in type templates.Customer`; err == nil || err.Error() != want {
		t.Errorf("body error: %v\nwant %s", err, want)
	}

	_, err = LoadFS(fsys(`<main>{{template "body" .}}</main>`))
	if want := `_layouts/email.html: the layout never calls {{template "content" .}}, so no email body would show`; err == nil || err.Error() != want {
		t.Errorf("layout without content: %v", err)
	}
	_, err = LoadFS(fsys("<main>\n{{if .Brand}}{{template \"content\" .}}</main>"))
	if want := `_layouts/email.html:2:1: unexpected EOF`; err == nil || err.Error() != want {
		t.Errorf("bad layout: %v", err)
	}
	// A layout nesting content in if, with and range is fine.
	if _, err := LoadFS(fsys(`{{with .Brand}}{{range $i, $x := "ab"}}{{end}}{{if $.Zone}}x{{else}}{{template "content" $}}{{end}}{{end}}`)); err != nil {
		t.Errorf("nested content call: %v", err)
	}
}

// Render is called by many batch workers at once; run with -race.
func TestConcurrentRender(t *testing.T) {
	s := loadSamples(t)
	type job struct{ name, channel, locale string }
	var jobs []job
	want := make(map[job]Message)
	for _, name := range s.Names() {
		for _, ch := range s.Channels(name) {
			for _, locale := range goldenLocales {
				j := job{name, ch, locale}
				m, err := s.Render(name, ch, locale, SampleData(locale, true))
				if err != nil {
					t.Fatal(err)
				}
				jobs = append(jobs, j)
				want[j] = m
			}
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				j := jobs[(g+i)%len(jobs)]
				m, err := s.Render(j.name, j.channel, j.locale, SampleData(j.locale, true))
				if err == nil && m != want[j] {
					err = fmt.Errorf("%v: output differs from a sequential render", j)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkRender(b *testing.B) {
	s, err := Load(".")
	if err != nil {
		b.Fatal(err)
	}
	d := SampleData("zh-CN", true)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Render("birthday-gift", "email", "zh-CN", d); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

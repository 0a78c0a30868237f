package templates

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	texttemplate "text/template"
)

// Every template error is FILE:LINE:COLUMN: message, as the configuration's
// are. Go gives a parse error's line only, and other columns in bytes from
// 0; the column here is the character an editor goes to (Chinese included):
// the action that did not parse, or the field that did not render.
func TestErrorPositions(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		render    bool // the error is the render's, not the parse's
		want      string
	}{
		{name: "second action", src: "Hi {{.FirstName}}, {{cupon}}", want: `x/sms.txt:1:20: function "cupon" not defined`},
		{name: "chinese", src: "您好 {{.FirstName}}，{{cupon}}", want: `x/sms.txt:1:19: function "cupon" not defined`},
		{name: "third line", src: "a\nb\nc {{.X}} {{\"d}}", want: `x/sms.txt:3:10: unterminated quoted string`},
		{name: "stray end", src: "{{.FirstName}} {{end}}", want: `x/sms.txt:1:16: unexpected {{end}}`},
		{name: "unclosed if", src: "Hi\n{{if .Brand}}x\n", want: `x/sms.txt:3:1: unexpected EOF`},
		{name: "unclosed action", src: "Hi {{.Brand", want: `x/sms.txt:1:4: unclosed action`},
		{name: "bad field", src: "您好，\n亲爱的{{.Customer.Nmae}}", render: true,
			want: `x/sms.txt:2:15: {{.Customer.Nmae}}: can't evaluate field Nmae in type templates.Customer`},
		{name: "no coupon", src: "{{if .Brand}}送您{{.CouponValue}}{{end}}", render: true,
			want: `x/sms.txt:1:18: {{.CouponValue}}: error calling CouponValue: no coupon: the campaign has no gift`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadFS(fstest.MapFS{"x/sms.txt": {Data: []byte(tc.src)}})
			if !tc.render {
				if err == nil || err.Error() != tc.want {
					t.Errorf("parse error\n got %v\nwant %s", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			errs := s.Check("x", []string{"sms"}, false)
			if len(errs) != 1 || errs[0].Error() != tc.want {
				t.Fatalf("render errors\n got %q\nwant %s", errs, tc.want)
			}
			var te *Error
			var exec texttemplate.ExecError
			if !errors.As(errs[0], &te) || te.File != "x/sms.txt" || te.Line == 0 || te.Column == 0 || !errors.As(errs[0], &exec) {
				t.Errorf("%#v is not an *Error with a position wrapping a template.ExecError", errs[0])
			}
		})
	}
}

// LoadPartial returns what parsed with every error: a parse error in one
// file hides neither the render errors of other templates nor those of the
// same template's other files, and a file that did not parse is not also
// reported missing.
func TestLoadPartial(t *testing.T) {
	s, err := LoadPartial("testdata/partial")
	want := []string{
		`testdata/partial/broken/sms.txt:1:15: function "FristName" not defined`,
		`testdata/partial/broken/sms.zh.txt:1:3: unexpected {{end}}`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("LoadPartial error:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
	if s == nil || !s.Has("broken") || !s.Has("good-but-wrong") {
		t.Fatalf("LoadPartial returned %v, want both templates", s)
	}
	if _, err := Load("testdata/partial"); err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("Load error %v, want the same", err)
	}
	for _, tc := range []struct {
		name string
		want []string
	}{
		// sms.txt and sms.zh.txt did not parse: only the email is rendered.
		{"broken", []string{
			`testdata/partial/broken/email.txt:3:12: {{.Customer.Attributes.shoe_size}}: map has no entry for key "shoe_size"`,
		}},
		{"good-but-wrong", []string{
			`testdata/partial/good-but-wrong/sms.txt:1:19: {{.Coupon.Code}}: nil pointer evaluating *templates.Coupon.Code`,
		}},
	} {
		var got []string
		for _, err := range s.Check(tc.name, nil, false) {
			got = append(got, err.Error())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Check(%s):\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// A layout that does not parse is reported once; the HTML bodies, which
// cannot render without it, are not rendered, and the rest of each
// template is.
func TestLoadPartialBrokenLayout(t *testing.T) {
	s, err := loadFS(fstest.MapFS{
		"_layouts/email.html": {Data: []byte("<main>\n{{if .Brand}}{{template \"content\" .}}</main>")},
		"a/email.subject.txt": {Data: []byte("Hi {{.Customer.Nmae}}")},
		"a/email.txt":         {Data: []byte("Hello\n{{.UnsubscribeURL}}")},
		"a/email.html":        {Data: []byte("<p>{{.Nope}}</p>")},
		"b/email.html":        {Data: []byte("<p>{{end}}</p>")},
		"b/email.subject.txt": {Data: []byte("Hi")},
		"b/email.txt":         {Data: []byte("Hello\n{{.UnsubscribeURL}}")},
	}, "templates")
	want := "templates/_layouts/email.html:2:1: unexpected EOF\ntemplates/b/email.html:1:4: unexpected {{end}}"
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
	if errs := s.Check("a", []string{"email"}, false); len(errs) != 1 ||
		errs[0].Error() != "templates/a/email.subject.txt:1:15: {{.Customer.Nmae}}: can't evaluate field Nmae in type templates.Customer" {
		t.Errorf("Check(a) = %q, want the subject's error only", errs)
	}
	if errs := s.Check("b", []string{"email"}, false); len(errs) != 0 {
		t.Errorf("Check(b) = %q, want nothing more", errs)
	}
}

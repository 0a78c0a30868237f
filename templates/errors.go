package templates

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	texttemplate "text/template"
	"unicode/utf8"
)

// Error is a problem in a template file, reported as the loader of the
// configuration reports its own: "FILE:LINE:COLUMN: message". File is the
// path under the templates folder as it was given to Load
// (templates/birthday-gift/sms.zh.txt), or a template folder's for a
// problem of the folder. Line and Column are 1-based, Column in characters
// (a Chinese character is one), so an editor goes straight to it; either is
// 0 when the problem has no such place (an empty subject, a missing file).
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string

	err error // the Go template error it was made from, if any
}

func (e *Error) Error() string {
	switch {
	case e.Line == 0:
		return e.File + ": " + e.Msg
	case e.Column == 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// Unwrap returns the text/template or html/template error, so that
// errors.As finds a template.ExecError.
func (e *Error) Unwrap() error { return e.err }

// goErrRe matches the position text/template and html/template put at the
// start of their errors, in the shapes they come in:
//
//	template: NAME:LINE: MSG                  parse
//	template: NAME:LINE:COL: executing ...    execution (COL 0-based, in bytes)
//	template: NAME: MSG                       execution, no node
//	html/template:NAME:LINE:COL: MSG          escaping (COL as above)
//	html/template:NAME:LINE: MSG
//	html/template:NAME: MSG
var goErrRe = regexp.MustCompile(`(?s)^(?:template: |html/template:)([^:\s]+)(?::(\d+))?(?::(\d+))?: (.*)$`)

// execRe matches the rest of an execution error: the template being
// executed (the position already names the file) and the action.
var execRe = regexp.MustCompile(`(?s)^executing "[^"]*" at <(.*?)>: (.*)$`)

// endContext begins html/template's error for a body that ends inside a
// tag or attribute.
const endContext = "ends in a non-text context: "

// fileError is a problem of a whole file (or folder) under the templates
// folder: rel is relative to it.
func (s *Set) fileError(rel, format string, args ...any) *Error {
	e := &Error{File: s.path(rel), Msg: fmt.Sprintf(format, args...)}
	for _, a := range args {
		if err, ok := a.(error); ok {
			e.err = err // errors.Is(err, fs.ErrNotExist) still holds
		}
	}
	return e
}

// path is a file's path as errors show it: under the folder given to Load,
// as the configuration's errors are under the folder given with --config.
func (s *Set) path(rel string) string {
	if s.root == "" {
		return rel
	}
	return filepath.Join(s.root, filepath.FromSlash(rel))
}

// positioned turns an error of text/template or html/template into an
// *Error at the file, line and column it names (file, the one being parsed
// or executed, when it names none). Go reports a parse error by line only,
// and other columns in bytes from 0; the column here is the character an
// editor counts.
func (s *Set) positioned(err error, file string) error {
	m := goErrRe.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{File: s.path(file), Msg: err.Error(), err: err}
	}
	e := &Error{File: s.path(m[1]), Msg: m[4], err: err}
	src, known := s.sources[m[1]]
	if m[2] != "" {
		e.Line, _ = strconv.Atoi(m[2])
	}
	switch {
	case m[2] == "" || !known:
	case m[3] != "":
		byteCol, _ := strconv.Atoi(m[3])
		e.Column = charColumn(src, e.Line, byteCol)
	case strings.HasPrefix(err.Error(), "template: "):
		// A parse error; html/template's by line only have no column.
		e.Column = parseColumn(m[1], src, e.Line, err.Error())
	}
	if strings.HasPrefix(e.Msg, endContext) {
		// Go appends its escaper's state ({stateURL delimDoubleQuote ...}),
		// which tells a marketer nothing.
		e.Msg = endContext + "a tag, attribute or quote is left open"
	}
	if x := execRe.FindStringSubmatch(e.Msg); x != nil {
		// The action as the marketer wrote it reads better than Go's
		// `executing "birthday-gift/sms.txt" at <.CouponValue>`.
		e.Msg = "{{" + x[1] + "}}: " + x[2]
	}
	return e
}

// lineAt returns the offsets of the start and end (before the newline) of
// the 1-based line of src, and false if src has fewer lines.
func lineAt(src string, line int) (start, end int, ok bool) {
	for i := 1; i < line; i++ {
		j := strings.IndexByte(src[start:], '\n')
		if j < 0 {
			return 0, 0, false
		}
		start += j + 1
	}
	end = len(src)
	if j := strings.IndexByte(src[start:], '\n'); j >= 0 {
		end = start + j
	}
	return start, end, true
}

// charColumn converts Go's column (the byte offset in the line, from 0) to
// the 1-based character column.
func charColumn(src string, line, byteCol int) int {
	start, end, ok := lineAt(src, line)
	if !ok || byteCol > end-start {
		return byteCol + 1
	}
	return utf8.RuneCountInString(src[start:start+byteCol]) + 1
}

// parseColumn finds the column of a parse error that text/template reports
// by line only. The parser stops at the first error, so the failing action
// is the first one on the line such that the source up to the next action
// fails with the same error; the column is where that action opens. A line
// with no action is where an unclosed one ran out: its end. 0 if line is
// not in src.
func parseColumn(name, src string, line int, full string) int {
	start, end, ok := lineAt(src, line)
	if !ok {
		return 0
	}
	col := func(off int) int { return utf8.RuneCountInString(src[start:off]) + 1 }
	var opens []int
	for i := start; ; {
		j := strings.Index(src[i:end], "{{")
		if j < 0 {
			break
		}
		opens = append(opens, i+j)
		i += j + 2
	}
	if len(opens) == 0 {
		return col(end)
	}
	for k, off := range opens[:len(opens)-1] {
		_, err := texttemplate.New(name).Parse(src[:opens[k+1]])
		if err != nil && err.Error() == full {
			return col(off)
		}
	}
	return col(opens[len(opens)-1])
}

package customer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxRecordBytes bounds one CSV record, the line breaks inside its quoted
// fields included: a longer line is a bad row, and a quoted field that is
// not closed within it is a stray quote, not a field.
const MaxRecordBytes = 64 << 10

// records splits CSV (RFC 4180) into records. It differs from encoding/csv
// in how it recovers: a bad record costs only itself. encoding/csv reads
// an unclosed quote to the end of the file and returns all of it as one
// bad record, so one stray quote on line 11 of a 100,000-line file loses
// every row after it. Here a quoted field may span lines, but if it is not
// closed well within MaxRecordBytes, the record is reported as the one line
// where it started, and reading resumes on the line after that one: the
// lines read ahead are read again as records of their own.
//
// Quoting is strict, as encoding/csv's without LazyQuotes: a " inside an
// unquoted field, or text after a closing ", is an error.
type records struct {
	br    *bufio.Reader
	lines int        // physical lines read from br
	read  int64      // bytes read from br
	ahead []rawLine  // lines read ahead for a quoted field that failed
	cont  []rawLine  // the lines after the first of the last record
	start int64      // offset just past the first line of the last record
	done  int64      // offset just past the last record returned
	buf   []byte     // the current record's fields, unquoted, back to back
	ends  []int      // end of each field in buf
	first []int      // line on which each field starts
	out   []string   // the fields returned, reused
	line  lineBuffer // the physical line being read
}

// rawLine is one physical line, without its line ending.
type rawLine struct {
	text    []byte
	num     int   // 1-based line number
	end     int64 // offset just past its line ending
	tooLong bool  // longer than MaxRecordBytes; text holds only the start
}

type lineBuffer []byte

// recordError is a malformed record, on the line where it starts.
type recordError struct {
	line   int
	reason string
}

func (e *recordError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.reason) }

func newRecords(br *bufio.Reader) *records { return &records{br: br} }

// readLine reads the next physical line from br, or returns io.EOF. A line
// longer than MaxRecordBytes is read to its end but not kept.
func (r *records) readLine() (rawLine, error) {
	buf := r.line[:0]
	tooLong := false
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.read += int64(len(chunk))
		if len(buf)+len(chunk) > MaxRecordBytes+2 { // +2: the line ending
			tooLong = true
		} else {
			buf = append(buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return rawLine{}, err
		}
		if errors.Is(err, io.EOF) && len(buf) == 0 && !tooLong {
			return rawLine{}, io.EOF
		}
		break
	}
	r.line = buf
	r.lines++
	buf = bytes.TrimSuffix(buf, []byte("\n"))
	buf = bytes.TrimSuffix(buf, []byte("\r"))
	// The line is copied: it may be kept in ahead after br moves on.
	return rawLine{text: bytes.Clone(buf), num: r.lines, end: r.read, tooLong: tooLong}, nil
}

// next returns the next line: one read ahead earlier, else a new one.
func (r *records) next() (rawLine, error) {
	if len(r.ahead) > 0 {
		l := r.ahead[0]
		r.ahead = r.ahead[1:]
		return l, nil
	}
	return r.readLine()
}

// Read returns the next record's fields, valid until the next call, and
// skips empty lines. A malformed record is a *recordError, after which Read
// may be called again; any other error is the underlying reader's.
func (r *records) Read() ([]string, error) {
	for {
		l, err := r.next()
		if err != nil {
			return nil, err
		}
		r.done = l.end
		if l.tooLong {
			return nil, &recordError{line: l.num, reason: fmt.Sprintf("line longer than %d KiB", MaxRecordBytes>>10)}
		}
		if len(l.text) == 0 {
			continue
		}
		if err := r.parse(l); err != nil {
			return nil, err
		}
		s := string(r.buf)
		r.out = r.out[:0]
		start := 0
		for _, end := range r.ends {
			r.out = append(r.out, s[start:end])
			start = end
		}
		return r.out, nil
	}
}

// Reject is called on a record the caller found bad (the wrong number of
// fields, a line break in a name). If the record spans lines and one of
// the lines after its first is a whole record of want fields on its own,
// the quote that joined them was more likely a stray one than the start of
// a field: those lines are handed back, to be read again as records. A
// stray quote that a later one seemed to close would otherwise cost the
// rows in between. The lines of a quoted field that really spans lines
// ("Apt 2", `Springfield",13812345678`) are no such record, and stay part
// of the one bad row.
func (r *records) Reject(want int) {
	for _, l := range r.cont {
		if n, ok := fieldCount(l.text); ok && n == want {
			r.ahead = append(r.cont, r.ahead...)
			r.cont = nil
			r.done = r.start
			return
		}
	}
}

// fieldCount counts the fields of line as a record of its own, or returns
// false if it is not one: a quoting error, or a quote left open.
func fieldCount(line []byte) (int, bool) {
	n, quoted, start := 1, false, true
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '"' && i+1 < len(line) && line[i+1] == '"':
			i++
		case quoted && c == '"':
			quoted = false
			if i+1 < len(line) && line[i+1] != ',' {
				return 0, false
			}
		case quoted:
		case c == '"' && start:
			quoted = true
		case c == '"':
			return 0, false
		case c == ',':
			n++
			start = true
			continue
		}
		start = false
	}
	return n, !quoted
}

// FieldLine returns the line on which field i of the last record starts.
func (r *records) FieldLine(i int) int { return r.first[i] }

// Offset returns how much of the input the records returned so far span.
func (r *records) Offset() int64 { return r.done }

// parse splits the record that starts on l into r.buf, r.ends and r.first,
// reading more lines while a quoted field is open.
func (r *records) parse(l rawLine) error {
	r.buf, r.ends, r.first = r.buf[:0], r.ends[:0], r.first[:0]
	r.cont, r.start = nil, l.end
	var cont []rawLine // lines after l that the record spans
	cur, text := l, l.text
	size := len(l.text)
	// fail reports the record as the line where it starts, and hands the
	// lines read after it back to be read as records of their own.
	fail := func(reason string) error {
		if len(cont) > 0 {
			r.ahead = append(cont, r.ahead...)
		}
		r.done = l.end
		return &recordError{line: l.num, reason: reason}
	}
	at := func(i int) string {
		if cur.num != l.num {
			return fmt.Sprintf("line %d, byte %d", cur.num, i+1)
		}
		return fmt.Sprintf("byte %d", i+1)
	}
	i := 0
	for {
		// At the start of a field.
		r.first = append(r.first, cur.num)
		if i >= len(text) || text[i] != '"' {
			j := bytes.IndexByte(text[i:], ',')
			if j < 0 {
				j = len(text) - i
			}
			field := text[i : i+j]
			if q := bytes.IndexByte(field, '"'); q >= 0 {
				return fail(fmt.Sprintf(`bare " in a field that does not start with " (%s)`, at(i+q)))
			}
			r.buf = append(r.buf, field...)
			r.ends = append(r.ends, len(r.buf))
			i += j
			if i == len(text) {
				r.done, r.cont = cur.end, cont
				return nil
			}
			i++ // the comma
			continue
		}
		// A quoted field.
		open := at(i)
		i++
		for {
			q := bytes.IndexByte(text[i:], '"')
			if q < 0 {
				// The field goes on on the next line.
				r.buf = append(r.buf, text[i:]...)
				r.buf = append(r.buf, '\n')
				next, err := r.next()
				switch {
				case errors.Is(err, io.EOF):
					return fail(fmt.Sprintf(`unclosed quote: the " at %s opens a field that is never closed`, open))
				case err != nil:
					return err
				}
				cont = append(cont, next)
				size += len(next.text) + 1
				if next.tooLong || size > MaxRecordBytes {
					return fail(fmt.Sprintf(`unclosed quote: the " at %s opens a field that is not closed within %d KiB`, open, MaxRecordBytes>>10))
				}
				cur, text, i = next, next.text, 0
				continue
			}
			r.buf = append(r.buf, text[i:i+q]...)
			i += q + 1
			if i < len(text) && text[i] == '"' { // "" is a quote
				r.buf = append(r.buf, '"')
				i++
				continue
			}
			break
		}
		r.ends = append(r.ends, len(r.buf))
		switch {
		case i == len(text):
			r.done, r.cont = cur.end, cont
			return nil
		case text[i] == ',':
			i++
		case len(cont) > 0:
			return fail(fmt.Sprintf(`unclosed quote: the " at %s opens a field that spans lines and breaks at %s (text after the closing ")`, open, at(i-1)))
		default:
			return fail(fmt.Sprintf(`missing or stray " in a quoted field (%s)`, at(i-1)))
		}
	}
}

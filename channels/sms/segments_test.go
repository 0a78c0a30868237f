package sms

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// birthdaySMS is the birthday-gift campaign's SMS as a Chinese customer
// gets it.
const birthdaySMS = "【Tidings Tea】王芳，生日快乐！送您¥50生日礼券，券码BDAY-54MB-62RY-ACQQ，有效期至2026年12月23日。回T退订"

func TestSegments(t *testing.T) {
	t.Parallel()
	a := func(n int) string { return strings.Repeat("a", n) }
	zh := func(n int) string { return strings.Repeat("中", n) }
	for _, tc := range []struct {
		name     string
		body     string
		enc      Encoding
		units    int
		segments int
	}{
		{"empty", "", GSM7, 0, 0},
		{"ascii 1", "a", GSM7, 1, 1},
		{"ascii 160", a(160), GSM7, 160, 1},
		{"ascii 161 is 153+8", a(161), GSM7, 161, 2},
		{"ascii 306 is 153+153", a(306), GSM7, 306, 2},
		{"ascii 307", a(307), GSM7, 307, 3},
		{"gsm accents and greek", "ΔΦΓΛΩΠΨΣΘΞ @£$¥ §¿¡ ÆæßÉ ÄÖÑÜäöñüà èéùìò Øø Åå", GSM7, 46, 1},
		{"one accent outside gsm makes it ucs-2", "Ça coûte 5£ à Zürich? ¡Sí!", UCS2, 26, 1}, // û
		{"newlines", "a\r\nb\n", GSM7, 5, 1},
		{"extension counts two", "€", GSM7, 2, 1},
		{"all extension chars", "^{}\\[~]|€\f", GSM7, 20, 1},
		{"80 euro is 160", strings.Repeat("€", 80), GSM7, 160, 1},
		{"159 plus euro is 161", a(159) + "€", GSM7, 161, 2},
		// The escape pair would straddle the first boundary (152+2 > 153),
		// so the euro opens segment 2: 152 | 2+151 | 1.
		{"extension not split", a(152) + "€" + a(152), GSM7, 306, 3},
		{"extension fits exactly", a(151) + "{" + a(153), GSM7, 306, 2},
		{"brace after boundary", a(152) + "{" + a(151), GSM7, 305, 2},
		{"chinese 1", "中", UCS2, 1, 1},
		{"chinese 70", zh(70), UCS2, 70, 1},
		{"chinese 71 is 67+4", zh(71), UCS2, 71, 2},
		{"chinese 134", zh(134), UCS2, 134, 2},
		{"chinese 135", zh(135), UCS2, 135, 3},
		{"one chinese makes it ucs-2", a(69) + "中", UCS2, 70, 1},
		{"one chinese in 71", a(70) + "中", UCS2, 71, 2},
		{"extension in ucs-2 counts one", "中€", UCS2, 2, 1},
		{"emoji is a surrogate pair", "😀", UCS2, 2, 1},
		{"35 emoji is 70", strings.Repeat("😀", 35), UCS2, 70, 1},
		{"36 emoji is 33+3", strings.Repeat("😀", 36), UCS2, 72, 2},
		// 66 | 2+65 | 1: the pair does not straddle the boundary at 67.
		{"surrogate pair not split", zh(66) + "😀" + zh(66), UCS2, 134, 3},
		{"surrogate pair fits exactly", zh(65) + "😀" + zh(67), UCS2, 134, 2},
		// 73 UTF-16 units (¥ is GSM-7 but the Chinese is not): 67 + 6.
		{"birthday sms", birthdaySMS, UCS2, 73, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, units, segments := Segments(tc.body)
			if enc != tc.enc || units != tc.units || segments != tc.segments {
				t.Errorf("Segments(%q) = %v, %d units, %d segments; want %v, %d, %d",
					tc.body, enc, units, segments, tc.enc, tc.units, tc.segments)
			}
		})
	}
}

func TestGSMCharset(t *testing.T) {
	t.Parallel()
	if n := utf8.RuneCountInString(gsmBasic); n != 127 {
		t.Errorf("basic set has %d characters, want 127 (128 codes less the escape)", n)
	}
	if n := utf8.RuneCountInString(gsmExtension); n != 10 {
		t.Errorf("extension table has %d characters, want 10", n)
	}
	if len(gsmUnits) != 137 {
		t.Errorf("%d distinct GSM-7 characters, want 137: a duplicate or an overlap", len(gsmUnits))
	}
}

func ExampleSegments() {
	for _, body := range []string{
		"Happy birthday, Wang Fang! Here is a 50 CNY gift: BDAY-54MB-62RY-ACQQ",
		"Your code costs 5€ {today}",
		birthdaySMS,
	} {
		enc, units, segments := Segments(body)
		fmt.Println(enc, units, segments)
	}
	// Output:
	// GSM-7 69 1
	// GSM-7 29 1
	// UCS-2 73 2
}

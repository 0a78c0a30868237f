package sms

// Encoding is the character set an SMS body travels in.
type Encoding uint8

// Encodings: GSM-7 when every character is in the GSM 03.38 basic set or
// its extension table, UCS-2 (UTF-16 in practice) otherwise.
const (
	GSM7 Encoding = iota
	UCS2
)

func (e Encoding) String() string {
	switch e {
	case GSM7:
		return "GSM-7"
	case UCS2:
		return "UCS-2"
	}
	return "Encoding(?)"
}

// The GSM 03.38 basic character set (127 characters; the 128th code is the
// escape to the extension table) and the extension characters, each sent
// as escape + character, two septets.
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "\f^{}\\[~]|€"
)

var gsmUnits = func() map[rune]int {
	m := make(map[rune]int, 137)
	for _, r := range gsmBasic {
		m[r] = 1
	}
	for _, r := range gsmExtension {
		m[r] = 2
	}
	return m
}()

// Segment sizes in units: septets for GSM-7, UTF-16 code units for UCS-2.
// A concatenated segment loses room to its user data header.
const (
	gsmSingle, gsmMulti   = 160, 153
	ucs2Single, ucs2Multi = 70, 67
)

// Segments reports how body travels: its encoding, its length in units
// (GSM-7 septets, an extension character counting two; or UTF-16 code
// units, a character outside the BMP such as an emoji counting two) and
// the number of SMS segments it is billed as. A body that fits one message
// (160 GSM-7 or 70 UCS-2 units) is one segment; a longer one is cut into
// segments of 153 or 67 units, and a character's units are never split
// across two segments, so a segment may fall one unit short. An empty body
// is zero segments.
func Segments(body string) (enc Encoding, units, segments int) {
	for _, r := range body {
		if gsmUnits[r] == 0 {
			enc = UCS2
			break
		}
	}
	single, multi := gsmSingle, gsmMulti
	if enc == UCS2 {
		single, multi = ucs2Single, ucs2Multi
	}
	used := 0
	segments = 1
	for _, r := range body {
		n := 1
		switch {
		case enc == GSM7:
			n = gsmUnits[r]
		case r > 0xFFFF:
			n = 2 // a surrogate pair
		}
		units += n
		if used+n > multi {
			segments++
			used = 0
		}
		used += n
	}
	switch {
	case units == 0:
		return enc, 0, 0
	case units <= single:
		return enc, units, 1
	}
	return enc, units, segments
}

package customer

import (
	"testing"
	"time"
)

func TestNormalizerPhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		region, in, want, err string
	}{
		{"CN", "", "", ""},
		{"CN", "   ", "", ""},
		{"CN", "13812345678", "+8613812345678", ""},
		{"CN", " 138 1234 5678 ", "+8613812345678", ""},
		{"CN", "138-1234-5678", "+8613812345678", ""},
		{"CN", "+86 138 1234 5678", "+8613812345678", ""},
		{"CN", "008613812345678", "+8613812345678", ""},
		{"CN", "+1 (415) 555-2671", "+14155552671", ""},
		{"US", "(415) 555-2671", "+14155552671", ""},
		{"US", "+44 7400 123456", "+447400123456", ""},
		{"", "+61 412 345 678", "+61412345678", ""},
		{"CN", "12345", "", "not a valid phone number for region CN"},
		{"CN", "+86 12345", "", "not a valid phone number"},
		{"US", "(415) 111-2671", "", "not a valid phone number for region US"},
		{"CN", "hello", "", "not a phone number"},
		{"CN", "1", "", "not a phone number"},
		{"", "13812345678", "", "not a phone number (no default region: write it with + and the country code)"},
		{"US", "+1 415 555 2671 ext. 12", "", "phone extensions are not supported"},
	}
	for _, tt := range tests {
		got, err := Normalizer{DefaultRegion: tt.region}.Phone(tt.in)
		if got != tt.want || errText(err) != tt.err {
			t.Errorf("Normalizer{%q}.Phone(%q) = %q, %q; want %q, %q", tt.region, tt.in, got, errText(err), tt.want, tt.err)
		}
	}
}

func TestPhoneRegion(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"+12025550143":   "US",
		"+14165550123":   "CA",
		"+17875550123":   "PR",
		"+18765550123":   "JM",
		"+15555550100":   "US", // no region of its own: +1's main one
		"+8613800138000": "CN",
		"+886912345678":  "TW",
		"+85291234567":   "HK",
		"+447700900123":  "GB", // a drama number: not valid, still British
		"":               "",
		"not a number":   "",
	} {
		if got := PhoneRegion(in); got != want {
			t.Errorf("PhoneRegion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Li\r\nWei":        "Li Wei",
		"Li\nWei":          "Li Wei",
		" Li \t\x00 Wei\r": "Li Wei",
		"王\r\n芳":           "王 芳",
		"Li Wei":           "Li Wei",
		"":                 "",
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizerEmail(t *testing.T) {
	t.Parallel()
	const bad = "not a valid email address"
	tests := []struct {
		in, want, err string
	}{
		{"", "", ""},
		{"  ", "", ""},
		{"li.wei@example.com", "li.wei@example.com", ""},
		{" li.wei@example.com\t", "li.wei@example.com", ""},
		{"Li.Wei@Mail.Example.CN", "Li.Wei@mail.example.cn", ""},
		{"o'brien+news@example.co.uk", "o'brien+news@example.co.uk", ""},
		{"a@b.c", "a@b.c", ""},
		{"用户@例子.中国", "用户@例子.中国", ""},

		{"li.wei", "", bad},
		{"li.wei@", "", bad},
		{"@example.com", "", bad},
		{"li@wei@example.com", "", bad},
		{"li.wei@localhost", "", bad},
		{"li.wei@example..com", "", bad},
		{"li.wei@example.com.", "", bad},
		{"li.wei@-example.com", "", bad},
		{"li.wei@[192.0.2.1]", "", bad},
		{"li..wei@example.com", "", bad},
		{"Li Wei <li.wei@example.com>", "", bad},
		{"<li.wei@example.com>", "", bad},
		{`"li wei"@example.com`, "", bad},
		{`"liwei"@example.com`, "", bad},
		{"li.wei@example.com (Li Wei)", "", bad},
		{"li wei@example.com", "", bad},
		{"li.wei@example.com,ma.li@example.com", "", bad},
		// Header injection: a line break must never survive into To: or Bcc:.
		{"li.wei@example.com\r\nBcc: victim@example.org", "", bad},
		{"li.wei@example.com\nBcc: victim@example.org", "", bad},
		{"li.wei@example.com\rBcc:victim@example.org", "", bad},
		{"li.wei\r\n@example.com", "", bad},
		{"li.wei@exa\nmple.com", "", bad},
		{"li.wei@example.com\x00", "", bad},
		{"li.wei\u2028@example.com", "", bad},
		{"li.wei@exam\u00a0ple.com", "", bad},
		// Spreadsheets pad with no-break spaces; trimming them is harmless.
		{"li.wei@example.com\u00a0", "li.wei@example.com", ""},
		{string(make([]byte, 250)) + "@example.com", "", bad},
	}
	for _, tt := range tests {
		got, err := Normalizer{}.Email(tt.in)
		if got != tt.want || errText(err) != tt.err {
			t.Errorf("Email(%q) = %q, %q; want %q, %q", tt.in, got, errText(err), tt.want, tt.err)
		}
	}
}

func TestTimeZone(t *testing.T) {
	t.Parallel()
	const bad = "unknown time zone (use an IANA name such as Asia/Shanghai)"
	tests := []struct {
		in, want, err string
	}{
		{"", "", ""},
		{"Asia/Shanghai", "Asia/Shanghai", ""},
		{" America/St_Johns ", "America/St_Johns", ""},
		{"Pacific/Chatham", "Pacific/Chatham", ""},
		{"UTC", "UTC", ""},
		{"Local", "", bad},
		{"asia/shanghai", "", bad},
		{"Beijing", "", bad},
		{"CST", "", bad},
		{"+08:00", "", bad},
		{"../../etc/passwd", "", bad},
	}
	for _, tt := range tests {
		got, err := TimeZone(tt.in)
		if got != tt.want || errText(err) != tt.err {
			t.Errorf("TimeZone(%q) = %q, %q; want %q, %q", tt.in, got, errText(err), tt.want, tt.err)
		}
	}
}

func TestLocale(t *testing.T) {
	t.Parallel()
	const bad = "not a locale (use a language tag such as zh-CN or en-US)"
	tests := []struct {
		in, want, err string
	}{
		{"", "", ""},
		{"zh-CN", "zh-CN", ""},
		{"zh_cn", "zh-CN", ""},
		{"EN-us", "en-US", ""},
		{"zh-hant-tw", "zh-Hant-TW", ""},
		{"es-419", "es-419", ""},
		{"fr", "fr", ""},
		{"z", "", bad},
		{"zh--CN", "", bad},
		{"zh-", "", bad},
		{"中文", "", bad},
		{"en US", "", bad},
		{"en-toolongsubtag", "", bad},
	}
	for _, tt := range tests {
		got, err := Locale(tt.in)
		if got != tt.want || errText(err) != tt.err {
			t.Errorf("Locale(%q) = %q, %q; want %q, %q", tt.in, got, errText(err), tt.want, tt.err)
		}
	}
}

func TestParseBirthday(t *testing.T) {
	t.Parallel()
	const format = "not a birthday (use YYYY-MM-DD, or MM-DD if the year is unknown)"
	tests := []struct {
		in   string
		want Birthday
		err  string
	}{
		{"", Birthday{}, ""},
		{"1990-05-17", Birthday{1990, time.May, 17}, ""},
		{"05-17", Birthday{0, time.May, 17}, ""},
		{"--05-17", Birthday{0, time.May, 17}, ""},
		{" 12-31 ", Birthday{0, time.December, 31}, ""},
		{"02-29", Birthday{0, time.February, 29}, ""},
		{"--02-29", Birthday{0, time.February, 29}, ""},
		{"2000-02-29", Birthday{2000, time.February, 29}, ""},
		{"1996-02-29", Birthday{1996, time.February, 29}, ""},
		{"1900-02-29", Birthday{}, "no such date: 1900-02-29"},
		{"1999-02-29", Birthday{}, "no such date: 1999-02-29"},
		{"02-30", Birthday{}, "no such date: 02-30"},
		{"04-31", Birthday{}, "no such date: 04-31"},
		{"13-01", Birthday{}, "no such date: 13-01"},
		{"00-10", Birthday{}, "no such date: 00-10"},
		{"1990-05-00", Birthday{}, "no such date: 1990-05-00"},
		{"0000-05-17", Birthday{}, format},
		{"1990/05/17", Birthday{}, format},
		{"1990-5-17", Birthday{}, format},
		{"5-17", Birthday{}, format},
		{"-05-17", Birthday{}, format},
		{"17.05.1990", Birthday{}, format},
		{"199O-05-17", Birthday{}, format},
		{"May 17", Birthday{}, format},
		{"+5-17", Birthday{}, format},
	}
	for _, tt := range tests {
		got, err := ParseBirthday(tt.in)
		if got != tt.want || errText(err) != tt.err {
			t.Errorf("ParseBirthday(%q) = %+v, %q; want %+v, %q", tt.in, got, errText(err), tt.want, tt.err)
		}
	}
}

func TestBirthdayString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "1990-05-17", "--02-29", "2000-02-29"} {
		b, err := ParseBirthday(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.String(); got != s {
			t.Errorf("ParseBirthday(%q).String() = %q", s, got)
		}
	}
}

func TestParseTier(t *testing.T) {
	t.Parallel()
	const bad = "unknown tier (use gold, key, quality, general, restricted or eliminated, or 黄金, 重点, 优质, 一般, 限制 or 淘汰)"
	tests := []struct {
		in   string
		want Tier
		err  string
	}{
		{"", "", ""},
		{"gold", TierGold, ""},
		{"GOLD", TierGold, ""},
		{" Key ", TierKey, ""},
		{"quality", TierQuality, ""},
		{"General", TierGeneral, ""},
		{"restricted", TierRestricted, ""},
		{"eliminated", TierEliminated, ""},
		{"黄金", TierGold, ""},
		{"重点", TierKey, ""},
		{"优质", TierQuality, ""},
		{"一般", TierGeneral, ""},
		{"限制", TierRestricted, ""},
		{" 淘汰 ", TierEliminated, ""},
		{"platinum", "", bad},
		{"黄金客户", "", bad},
		{"gold ", TierGold, ""},
	}
	for _, tt := range tests {
		got, err := ParseTier(tt.in)
		if got != tt.want || errText(err) != tt.err {
			t.Errorf("ParseTier(%q) = %q, %q; want %q, %q", tt.in, got, errText(err), tt.want, tt.err)
		}
	}
}

func TestParseBool(t *testing.T) {
	t.Parallel()
	const bad = "not a yes/no value (use yes or no, true or false, 1 or 0)"
	tests := []struct {
		in   string
		want bool
		err  string
	}{
		{"", false, ""},
		{"true", true, ""},
		{"TRUE", true, ""},
		{"yes", true, ""},
		{" Y ", true, ""},
		{"1", true, ""},
		{"是", true, ""},
		{"false", false, ""},
		{"No", false, ""},
		{"n", false, ""},
		{"0", false, ""},
		{"否", false, ""},
		{"2", false, bad},
		{"on", false, bad},
		{"yes please", false, bad},
	}
	for _, tt := range tests {
		got, err := ParseBool(tt.in)
		if got != tt.want || errText(err) != tt.err {
			t.Errorf("ParseBool(%q) = %v, %q; want %v, %q", tt.in, got, errText(err), tt.want, tt.err)
		}
	}
}

// errText returns err's message, or "" for nil, so tables can hold errors
// as strings.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

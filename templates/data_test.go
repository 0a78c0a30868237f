package templates

import (
	"errors"
	"math"
	"testing"
	"time"
	_ "time/tzdata" // the zone tests must not depend on the machine's zoneinfo
)

func TestMoney(t *testing.T) {
	for _, tc := range []struct {
		amount   float64
		currency string
		locale   string
		want     string
	}{
		{50, "CNY", "zh-CN", "¥50"},
		{50, "CNY", "zh-TW", "¥50"},
		{50, "CNY", "en-US", "CN¥50"},
		{50, "CNY", "", "CN¥50"},
		{12800, "CNY", "zh", "¥12,800"},
		{12800, "cny", "zh_CN", "¥12,800"},
		{1234567.891, "CNY", "zh", "¥1,234,567.89"},
		{19.99, "USD", "en-US", "$19.99"},
		{19.5, "USD", "en-US", "$19.50"},
		{0.5, "USD", "en-US", "$0.50"},
		{0, "USD", "en-US", "$0"},
		{-0.001, "USD", "en-US", "$0"},
		{-5.5, "USD", "en-US", "-$5.50"},
		{-1234, "USD", "en-US", "-$1,234"},
		{49.999, "USD", "en-US", "$50"},     // rounds to whole, so no decimals
		{2.675, "USD", "en-US", "$2.68"},    // half away from zero
		{999.995, "USD", "en-US", "$1,000"}, // the rounding carries into a new group
		{100, "EUR", "fr-FR", "€100"},
		{1000, "GBP", "en-GB", "£1,000"},
		{1234.5, "JPY", "ja-JP", "¥1,235"},        // yen never has decimals
		{1000000, "JPY", "zh-CN", "JP¥1,000,000"}, // a bare ¥ is the yuan to a Chinese reader
		{88, "HKD", "zh-HK", "HK$88"},
		{88.8, "TWD", "zh-TW", "NT$88.80"},
		{25, "SGD", "en-SG", "S$25"},
		{25, "AUD", "en-AU", "A$25"},
		{25, "NZD", "en-NZ", "NZ$25"},
		{25, "CAD", "en-CA", "CA$25"},
		{50, "XXX", "en", "50.00 XXX"},
		{12800, "krw", "en", "12,800.00 KRW"},
		{50, "", "en", "50.00"},
		{100, " usd ", "en", "$100"},
	} {
		d := Data{Customer: Customer{Locale: tc.locale}}
		if got := d.Money(tc.amount, tc.currency); got != tc.want {
			t.Errorf("Money(%v, %q) for %q = %q, want %q", tc.amount, tc.currency, tc.locale, got, tc.want)
		}
	}
	// Not money, but must not crash or print garbage separators.
	d := Data{}
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		_ = d.Money(x, "USD")
	}
}

func TestLocalDate(t *testing.T) {
	now := time.Date(2027, time.February, 5, 20, 0, 0, 0, time.UTC)
	zone := func(name string) *time.Location {
		z, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	for _, tc := range []struct {
		zone   *time.Location
		locale string
		want   string
	}{
		{zone("Asia/Shanghai"), "zh-CN", "2027年2月6日"},
		{zone("Asia/Shanghai"), "en-GB", "6 February 2027"},
		{zone("America/New_York"), "en-US", "5 February 2027"},
		{zone("America/New_York"), "zh-CN", "2027年2月5日"},
		{zone("Pacific/Kiritimati"), "zh-TW", "2027年2月6日"},   // UTC+14
		{zone("Pacific/Pago_Pago"), "en", "5 February 2027"}, // UTC-11
		{zone("Asia/Kathmandu"), "en", "6 February 2027"},    // UTC+5:45: 01:45 next day
		{zone("Asia/Kolkata"), "en", "6 February 2027"},      // UTC+5:30: 01:30 next day
		{zone("America/St_Johns"), "en", "5 February 2027"},  // UTC-3:30
		{nil, "en", "5 February 2027"},                       // nil is UTC
		{nil, "zh", "2027年2月5日"},
	} {
		d := Data{Now: now, Zone: tc.zone, Customer: Customer{Locale: tc.locale}}
		if got := d.LocalDate(); got != tc.want {
			t.Errorf("LocalDate in %v for %q = %q, want %q", tc.zone, tc.locale, got, tc.want)
		}
	}
}

func TestCoupon(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	d := Data{
		Customer: Customer{Locale: "zh-CN"},
		Zone:     shanghai,
		Coupon: &Coupon{Code: "BDAY-1", Amount: 50, Currency: "CNY",
			ValidUntil: time.Date(2027, time.March, 7, 15, 59, 59, 0, time.UTC)}, // 23:59:59 in Shanghai
	}
	if got := d.CouponValue(); got != "¥50" {
		t.Errorf("CouponValue = %q", got)
	}
	if got := d.CouponValidUntil(); got != "2027年3月7日" {
		t.Errorf("CouponValidUntil = %q", got)
	}

	// Outside a template a missing coupon is a programming error and panics;
	// inside one, text/template turns the panic into an error (TestCheckErrors).
	defer func() {
		if err, _ := recover().(error); !errors.Is(err, errNoCoupon) {
			t.Errorf("CouponValue without a coupon: recovered %v, want errNoCoupon", err)
		}
	}()
	d.Coupon = nil
	d.CouponValue()
}

func TestFirstName(t *testing.T) {
	for name, want := range map[string]string{
		"王小明":                "王小明",
		" 欧阳娜娜 ":             "欧阳娜娜",
		"陈 大文":               "陈 大文",
		"Emily Carter":       "Emily",
		"  Emily   Carter  ": "Emily",
		"Cher":               "Cher",
		"Tai Man Chan 陈大文":   "Tai Man Chan 陈大文", // has Han characters: a Chinese greeting, full name
		"José María Álvarez": "José",
		"":                   "",
		"   ":                "",
	} {
		d := Data{Customer: Customer{Name: name}}
		if got := d.FirstName(); got != want {
			t.Errorf("FirstName(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestAttr(t *testing.T) {
	d := Data{Customer: Customer{Attributes: map[string]any{"city": "上海", "points": float64(0), "note": nil, "vip": false}}}
	for _, tc := range []struct {
		key  string
		def  any
		want any
	}{
		{"city", "", "上海"},
		{"points", 100, float64(0)}, // a zero value is still a value
		{"vip", true, false},
		{"note", "none", "none"}, // null in the JSON
		{"missing", "default", "default"},
		{"missing", nil, nil},
	} {
		if got := d.Attr(tc.key, tc.def); got != tc.want {
			t.Errorf("Attr(%q, %v) = %#v, want %#v", tc.key, tc.def, got, tc.want)
		}
	}
	if got := (Data{}).Attr("city", "x"); got != "x" {
		t.Errorf("Attr with no attributes = %v", got)
	}
}

func TestSampleData(t *testing.T) {
	for _, locale := range []string{"zh-CN", "zh-TW", "zh-HK", "zh", "en-US", "en-GB", "fr-FR", "", "en"} {
		d := SampleData(locale, true)
		switch {
		case d.Customer.Name == "" || d.Customer.Email == "" || d.Customer.Phone == "" || d.Brand == "" ||
			d.UnsubscribeURL == "" || d.Zone == nil || d.Now.IsZero() || d.Customer.Birthday.IsZero() ||
			d.Customer.Attributes["city"] == nil || d.Coupon == nil || d.Coupon.Code == "":
			t.Errorf("SampleData(%q) is incomplete: %+v", locale, d)
		case d.Customer.Locale != locale:
			t.Errorf("SampleData(%q) has locale %q", locale, d.Customer.Locale)
		case isChinese(locale) != (d.FirstName() == d.Customer.Name):
			t.Errorf("SampleData(%q): name %q does not suit the locale", locale, d.Customer.Name)
		}
		if SampleData(locale, false).Coupon != nil {
			t.Errorf("SampleData(%q, false) has a coupon", locale)
		}
	}
	// Callers may change a sample's attributes without touching the next one.
	a := SampleData("en", false)
	a.Customer.Attributes["city"] = "Leeds"
	if b := SampleData("en", false); b.Customer.Attributes["city"] != "London" {
		t.Errorf("SampleData shares its attributes map")
	}
}

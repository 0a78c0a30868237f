package templates

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tidings/tidings/customer"
)

// Data is the dot of every template: one recipient of one campaign
// occurrence. Its methods are the template's helpers, so a marketer writes
// {{.LocalDate}} or {{.Money 368 "CNY"}} and needs no function map.
type Data struct {
	Customer   Customer
	Campaign   string
	Occurrence string
	Brand      string  // from tidings.yaml
	Coupon     *Coupon // nil when the campaign has no gift
	Now        time.Time
	// Zone is the customer's time zone, or the campaign's when the customer
	// has none. Nil is read as UTC.
	Zone           *time.Location
	UnsubscribeURL string
}

// Customer is the part of a customer a template may show.
type Customer struct {
	ID         int64
	ExternalID string
	Name       string
	Email      string
	Phone      string
	Locale     string
	Tier       string
	Birthday   customer.Birthday
	Attributes map[string]any
}

// Coupon is the gift a campaign hands out, one code per recipient.
type Coupon struct {
	Code       string
	Amount     float64
	Currency   string // ISO 4217
	ValidUntil time.Time
}

// errNoCoupon is what CouponValue and CouponValidUntil panic with when the
// campaign has no gift. Inside a template text/template turns the panic into
// an execution error naming the file and line, which is how Set.Check
// reports a coupon template used by a campaign without a gift.
var errNoCoupon = errors.New("no coupon: the campaign has no gift")

// LocalDate returns the send time as a date in the customer's zone, written
// for the customer's locale: "2027年2月6日" for Chinese, "6 February 2027"
// otherwise.
func (d Data) LocalDate() string { return d.date(d.Now) }

// Money formats an amount with the currency's symbol, for the customer's
// locale: "¥12,800" (CNY in Chinese), "CN¥50" (CNY otherwise), "$19.99".
// Whole amounts have no decimals, others two; yen never has decimals. An
// unknown currency is written after the amount: "50.00 XXX".
func (d Data) Money(amount float64, currency string) string {
	return formatMoney(amount, currency, isChinese(d.Customer.Locale))
}

// CouponValue is Money of the coupon's amount and currency. It panics if the
// campaign has no gift (see [Data.Coupon]); in a template that is an error.
func (d Data) CouponValue() string {
	if d.Coupon == nil {
		panic(errNoCoupon)
	}
	return d.Money(d.Coupon.Amount, d.Coupon.Currency)
}

// CouponValidUntil is the coupon's last valid day as a local date, like
// LocalDate. It panics if the campaign has no gift; in a template that is an
// error.
func (d Data) CouponValidUntil() string {
	if d.Coupon == nil {
		panic(errNoCoupon)
	}
	return d.date(d.Coupon.ValidUntil)
}

// Attr returns the customer attribute key, or def when the customer has no
// such attribute or it is null. Unlike .Customer.Attributes.key it never
// fails, so it is the way to use an attribute not every customer has.
func (d Data) Attr(key string, def any) any {
	if v, ok := d.Customer.Attributes[key]; ok && v != nil {
		return v
	}
	return def
}

// FirstName returns the name to greet the customer with: the full name when
// it is written in Han characters (a Chinese greeting uses the full name,
// and the given name cannot be split off reliably), otherwise the first word.
// It is "" when the customer has no name.
func (d Data) FirstName() string {
	name := strings.TrimSpace(d.Customer.Name)
	if strings.ContainsFunc(name, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
		return name
	}
	if f := strings.Fields(name); len(f) > 0 {
		return f[0]
	}
	return ""
}

func (d Data) date(t time.Time) string {
	zone := d.Zone
	if zone == nil {
		zone = time.UTC
	}
	t = t.In(zone)
	if isChinese(d.Customer.Locale) {
		return fmt.Sprintf("%d年%d月%d日", t.Year(), t.Month(), t.Day())
	}
	return t.Format("2 January 2006")
}

// isChinese reports whether locale is zh or a variant of it (zh-CN, zh_TW,
// zh-Hant-HK).
func isChinese(locale string) bool {
	l := strings.ToLower(strings.TrimSpace(locale))
	return l == "zh" || strings.HasPrefix(l, "zh-") || strings.HasPrefix(l, "zh_")
}

type currency struct {
	symbol   string
	symbolZH string // the symbol for Chinese locales, if different
	whole    bool   // no minor unit
}

// currencies follows CLDR's narrow-enough symbols: a bare ¥ is the yuan to a
// Chinese reader and the yen to everyone else, so each gets a prefix where
// it would be ambiguous.
var currencies = map[string]currency{
	"CNY": {symbol: "CN¥", symbolZH: "¥"},
	"JPY": {symbol: "¥", symbolZH: "JP¥", whole: true},
	"USD": {symbol: "$"},
	"EUR": {symbol: "€"},
	"GBP": {symbol: "£"},
	"HKD": {symbol: "HK$"},
	"TWD": {symbol: "NT$"},
	"SGD": {symbol: "S$"},
	"AUD": {symbol: "A$"},
	"NZD": {symbol: "NZ$"},
	"CAD": {symbol: "CA$"},
}

func formatMoney(amount float64, code string, chinese bool) string {
	code = strings.ToUpper(strings.TrimSpace(code))
	c, known := currencies[code]
	if !known {
		s := groupDigits(amount, 2)
		if code == "" {
			return s
		}
		return s + " " + code
	}
	sym := c.symbol
	if chinese && c.symbolZH != "" {
		sym = c.symbolZH
	}
	decimals := 2
	// Decide on the rounded value, so 49.999 is ¥50 and not ¥50.00.
	if c.whole || math.Mod(math.Round(amount*100), 100) == 0 {
		decimals = 0
	}
	s := groupDigits(amount, decimals)
	if strings.HasPrefix(s, "-") {
		return "-" + sym + s[1:]
	}
	return sym + s
}

// groupDigits formats amount with the given decimals and a comma between
// groups of thousands.
func groupDigits(amount float64, decimals int) string {
	// Round half away from zero, as money is, not half to even.
	scale := math.Pow10(decimals)
	s := strconv.FormatFloat(math.Round(amount*scale)/scale, 'f', decimals, 64)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	if strings.Trim(s, "0.") == "" {
		sign = "" // no "-0"
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if len(intPart) <= 3 || strings.ContainsAny(intPart, "NI") { // NaN, Inf
		return sign + s
	}
	var b strings.Builder
	b.WriteString(sign)
	head := len(intPart) % 3
	if head > 0 {
		b.WriteString(intPart[:head])
	}
	for i := head; i < len(intPart); i += 3 {
		if b.Len() > len(sign) {
			b.WriteByte(',')
		}
		b.WriteString(intPart[i : i+3])
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// SampleData returns a complete, realistic recipient for locale: a Chinese
// customer in Shanghai (or Taipei, Hong Kong) for Chinese locales, an
// English-speaking one otherwise, on the morning of 6 February 2027 — the
// Spring Festival, and the sample customer's birthday. The coupon is set only
// when withCoupon is. Set.Check renders every template with it, and previews
// show it, so it fills every field a template may use.
func SampleData(locale string, withCoupon bool) Data {
	c := Customer{
		ID:         1024,
		ExternalID: "C-001024",
		Locale:     locale,
		Tier:       "gold",
		Birthday:   customer.Birthday{Year: 1990, Month: time.February, Day: 6},
	}
	var zone *time.Location
	l := strings.ToLower(strings.ReplaceAll(locale, "_", "-"))
	switch {
	case isChinese(l):
		c.Name = "王小明"
		c.Email = "xiaoming.wang@example.com"
		c.Phone = "+8613800138000"
		city := "上海"
		zone = loadZone("Asia/Shanghai", 8)
		switch {
		case strings.HasSuffix(l, "-tw") || strings.Contains(l, "-hant"):
			city, c.Phone, zone = "台北", "+886912345678", loadZone("Asia/Taipei", 8)
		case strings.HasSuffix(l, "-hk"):
			city, c.Phone, zone = "香港", "+85291234567", loadZone("Asia/Hong_Kong", 8)
		}
		c.Attributes = map[string]any{"city": city, "favorite_tea": "西湖龙井", "points": float64(2680)}
	case strings.HasSuffix(l, "-us"):
		c.Name = "Emily Carter"
		c.Email = "emily.carter@example.com"
		c.Phone = "+12025550143"
		zone = loadZone("America/New_York", -5)
		c.Attributes = map[string]any{"city": "New York", "favorite_tea": "Earl Grey", "points": float64(2680)}
	default:
		c.Name = "Emily Carter"
		c.Email = "emily.carter@example.com"
		c.Phone = "+447700900123"
		zone = loadZone("Europe/London", 0)
		c.Attributes = map[string]any{"city": "London", "favorite_tea": "Earl Grey", "points": float64(2680)}
	}
	// 10:00 on 6 February 2027 at the customer's place.
	now := time.Date(2027, time.February, 6, 10, 0, 0, 0, zone)
	d := Data{
		Customer:       c,
		Campaign:       "birthday-gift",
		Occurrence:     "2027",
		Brand:          "Tidings Tea",
		Now:            now,
		Zone:           zone,
		UnsubscribeURL: "https://tidings.example.com/u/3f9a2c7e5b1d",
	}
	if withCoupon {
		d.Coupon = &Coupon{
			Code:       "BDAY-7QK2M9",
			Amount:     50,
			Currency:   "CNY",
			ValidUntil: time.Date(2027, time.March, 7, 23, 59, 59, 0, zone),
		}
	}
	return d
}

// loadZone loads an IANA zone, falling back to a fixed offset (right for
// the sample's February date) where the system has no zone database.
func loadZone(name string, hours int) *time.Location {
	if z, err := time.LoadLocation(name); err == nil {
		return z
	}
	return time.FixedZone(name, hours*3600)
}

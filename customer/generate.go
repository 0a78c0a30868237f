package customer

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Generator makes demo customers. The same seed and clock give the same
// customers in the same order, so a demo or a benchmark can be repeated.
//
// The mix is meant to exercise a campaign the way a real customer base does:
// about 55% Chinese customers, the rest English-speaking and international;
// time zones on both sides of the date line and with half- and
// quarter-hour offsets; birthdays on 29 February; customers reachable by only
// one channel; and the six tiers in a pyramid. Phone numbers are valid for
// their country, and e-mail addresses use only example domains
// (example.com, example.org, example.net and mail.cn.example), never a real
// provider.
//
// A Generator is not safe for concurrent use.
type Generator struct {
	rng *rand.Rand
	now time.Time
	n   int // customers made so far
}

// NewGenerator returns a generator whose dates are relative to now.
func NewGenerator(seed int64, now time.Time) *Generator {
	// The second PCG word only needs to be fixed; it spells "tidings".
	return &Generator{
		rng: rand.New(rand.NewPCG(uint64(seed), 0x74696469_6e6773)),
		now: now.UTC().Truncate(time.Second),
	}
}

// Per-mille chances, chosen so that the shares over all customers come out
// near the ones in Generator's documentation.
const (
	pmOnlyPhone    = 120 // no e-mail address
	pmOnlyEmail    = 80  // no phone number
	pmNoTimeZone   = 30
	pmBirthYear    = 800
	pmEmailConsent = 795 // of those with an e-mail address: ~70% overall
	pmSMSConsent   = 652 // of those with a phone number: ~60% overall
	pmNeverBought  = 200 // of general, restricted and eliminated: ~15% overall
)

// Next returns the next customer. ID is left zero for the store to assign.
func (g *Generator) Next() Customer {
	g.n++
	r := g.rng
	p := profiles.pick(r)
	z := p.zones.pick(r)
	family, given := p.names.pick(r)
	c := Customer{
		ExternalID: "C" + pad(g.n, 7),
		Name:       p.names.display(family, given),
		Locale:     p.locales.pick(r),
		TimeZone:   z.tz,
		Tier:       tierPyramid.pick(r),
	}
	c.CreatedAt = g.between(g.now.AddDate(-6, 0, 0), g.now)
	if perMille(r, pmNoTimeZone) {
		c.TimeZone = ""
	}

	contact := r.IntN(1000)
	if contact >= pmOnlyPhone {
		dom := p.domains.pick(r)
		c.Email = given.roman + "." + family.roman + strconv.Itoa(g.n) + "@" + dom
	}
	if contact < pmOnlyPhone || contact >= pmOnlyPhone+pmOnlyEmail {
		plan := p.phone
		if z.phone != nil {
			plan = z.phone
		}
		c.Phone = plan.number(r)
	}

	c.Birthday = g.birthday()
	c.EmailConsent = g.consent(c.Email != "", pmEmailConsent, c.CreatedAt)
	c.SMSConsent = g.consent(c.Phone != "", pmSMSConsent, c.CreatedAt)
	g.purchases(&c)
	c.Tags = g.tags(&c, p)
	c.Attributes = g.attributes(&c, z)
	return c
}

func perMille(r *rand.Rand, pm int) bool { return r.IntN(1000) < pm }

// pad formats n in decimal with leading zeros to at least width digits.
func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

// monthDays is every day of a leap year, so that a uniform pick gives
// 29 February its real share of birthdays.
var monthDays = func() []Birthday {
	var ds []Birthday
	for d := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == 2000; d = d.AddDate(0, 0, 1) {
		ds = append(ds, Birthday{Month: d.Month(), Day: d.Day()})
	}
	return ds
}()

func (g *Generator) birthday() Birthday {
	r := g.rng
	b := monthDays[r.IntN(len(monthDays))]
	if !perMille(r, pmBirthYear) {
		return b
	}
	const first, last = 1950, 2008
	if b.Month == time.February && b.Day == 29 {
		// The leap years from 1952 to 2008.
		b.Year = 1952 + 4*r.IntN((last-1952)/4+1)
	} else {
		b.Year = first + r.IntN(last-first+1)
	}
	return b
}

// consent grants consent on a channel the customer can be reached on with a
// per-mille chance of pm. Most consent is given at sign-up; a quarter of the
// refusals record when consent was withdrawn.
func (g *Generator) consent(reachable bool, pm int, created time.Time) Consent {
	r := g.rng
	if !reachable {
		return Consent{}
	}
	if perMille(r, pm) {
		if perMille(r, 600) {
			return Consent{Granted: true, At: created}
		}
		return Consent{Granted: true, At: g.between(created, g.now)}
	}
	if perMille(r, 250) {
		return Consent{At: g.between(created, g.now)}
	}
	return Consent{}
}

// between returns a time in [a, b], to the second.
func (g *Generator) between(a, b time.Time) time.Time {
	secs := int64(b.Sub(a) / time.Second)
	if secs <= 0 {
		return a
	}
	return a.Add(time.Duration(g.rng.Int64N(secs+1)) * time.Second)
}

// tierSpend is, per tier, the range of the number of purchases and the
// average order in CNY.
var tierSpend = map[Tier]struct {
	minCount, maxCount int
	avgOrder           float64
}{
	TierGold:       {20, 120, 820},
	TierKey:        {10, 60, 520},
	TierQuality:    {5, 30, 360},
	TierGeneral:    {1, 12, 210},
	TierRestricted: {1, 5, 150},
	TierEliminated: {1, 3, 120},
}

func (g *Generator) purchases(c *Customer) {
	r := g.rng
	lower := c.Tier == TierGeneral || c.Tier == TierRestricted || c.Tier == TierEliminated
	if lower && perMille(r, pmNeverBought) {
		return
	}
	s := tierSpend[c.Tier]
	c.PurchaseCount = s.minCount + r.IntN(s.maxCount-s.minCount+1)
	// Spread each customer's average order by ±40% around the tier's.
	avg := s.avgOrder * (0.6 + 0.8*r.Float64())
	c.TotalSpent = math.Round(float64(c.PurchaseCount)*avg*100) / 100
	from := c.CreatedAt
	if twoYears := g.now.AddDate(-2, 0, 0); from.Before(twoYears) {
		from = twoYears
	}
	c.LastPurchase = g.between(from, g.now)
}

func (g *Generator) tags(c *Customer, p *profile) []string {
	r := g.rng
	var tags []string
	add := func(tag string, pm int) {
		if perMille(r, pm) {
			tags = append(tags, tag)
		}
	}
	switch c.Tier {
	case TierGold:
		add("vip", 900)
	case TierKey:
		add("vip", 500)
	}
	if c.EmailConsent.Granted {
		add("newsletter", 600)
	}
	if p.wechat {
		add("wechat", 500)
	}
	if c.SMSConsent.Granted {
		add("prefers-sms", 250)
	}
	if p.chinese {
		add("tea-lover", 200)
		add("coffee-lover", 120)
	} else {
		add("tea-lover", 80)
		add("coffee-lover", 250)
	}
	add("skincare", 150)
	add("electronics", 150)
	add("complaint-open", 20)
	if !c.LastPurchase.IsZero() && c.LastPurchase.Before(g.now.AddDate(-1, 0, 0)) {
		tags = append(tags, "lapsed")
	}
	return tags
}

var categories = []string{"tea", "coffee", "skincare", "electronics", "apparel", "home", "books"}

func (g *Generator) attributes(c *Customer, z zone) map[string]any {
	r := g.rng
	a := map[string]any{"city": z.city}
	if perMille(r, 850) {
		a["favorite_category"] = categories[r.IntN(len(categories))]
	}
	switch c.Tier {
	case TierGold:
		a["member_level"] = int64(5)
	case TierKey:
		a["member_level"] = int64(4)
	case TierQuality:
		a["member_level"] = int64(3)
	case TierGeneral:
		if perMille(r, 300) {
			a["member_level"] = int64(1 + r.IntN(2))
		}
	}
	return a
}

// tierPyramid is the usual shape of a classified customer base: few gold
// customers, a broad general tier.
var tierPyramid = newPicker(
	w(30, TierGold),
	w(70, TierKey),
	w(150, TierQuality),
	w(500, TierGeneral),
	w(150, TierRestricted),
	w(100, TierEliminated),
)

// weighted is a value with an integer weight.
type weighted[T any] struct {
	weight int
	value  T
}

func w[T any](weight int, v T) weighted[T] { return weighted[T]{weight, v} }

// picker picks values with chances proportional to their weights.
type picker[T any] struct {
	cum    []int // cumulative weights
	values []T
}

func newPicker[T any](items ...weighted[T]) picker[T] {
	var p picker[T]
	total := 0
	for _, it := range items {
		total += it.weight
		p.cum = append(p.cum, total)
		p.values = append(p.values, it.value)
	}
	return p
}

func (p picker[T]) pick(r *rand.Rand) T {
	x := r.IntN(p.cum[len(p.cum)-1])
	// The lists are short: a linear scan beats a binary search.
	for i, c := range p.cum {
		if x < c {
			return p.values[i]
		}
	}
	panic("unreachable")
}

// phonePlan makes mobile numbers of one country: the country code, a
// prefix, and random digits. The prefixes are ranges that libphonenumber
// accepts whole; TestGeneratorPhonesValid checks them.
type phonePlan struct {
	cc       string
	prefixes []string
	digits   int
	// nanp adds a North American exchange code (2xx to 9xx, not N11)
	// between the prefix, an area code, and the digits.
	nanp bool
}

func (pp *phonePlan) number(r *rand.Rand) string {
	b := make([]byte, 0, 16)
	b = append(b, '+')
	b = append(b, pp.cc...)
	b = append(b, pp.prefixes[r.IntN(len(pp.prefixes))]...)
	if pp.nanp {
		d1, d2, d3 := byte('2'+r.IntN(8)), byte('0'+r.IntN(10)), byte('0'+r.IntN(10))
		for d2 == '1' && d3 == '1' {
			d3 = byte('0' + r.IntN(10))
		}
		b = append(b, d1, d2, d3)
	}
	for range pp.digits {
		b = append(b, byte('0'+r.IntN(10)))
	}
	return string(b)
}

func nanp(areaCodes ...string) *phonePlan {
	return &phonePlan{cc: "1", prefixes: areaCodes, digits: 4, nanp: true}
}

var (
	phoneCN = &phonePlan{cc: "86", digits: 8, prefixes: []string{
		"130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
		"150", "151", "152", "153", "155", "156", "157", "158", "159",
		"166", "173", "175", "176", "177",
		"180", "181", "182", "183", "184", "185", "186", "187", "188", "189",
		"198", "199",
	}}
	phoneTW = &phonePlan{cc: "886", digits: 7, prefixes: []string{"90", "91", "92", "93", "94", "95", "96", "97", "98"}}
	phoneHK = &phonePlan{cc: "852", digits: 5, prefixes: []string{
		"510", "520", "530", "540", "550", "560", "590",
		"610", "620", "630", "640", "650", "660", "670", "680", "690",
		"901", "910", "920", "930", "940", "950", "960", "970", "980",
	}}
	phoneGB = &phonePlan{cc: "44", digits: 8, prefixes: []string{"74", "75", "78"}}
	phoneAU = &phonePlan{cc: "61", digits: 7, prefixes: []string{"40", "41", "42", "43", "46"}}
	phoneNZ = &phonePlan{cc: "64", digits: 7, prefixes: []string{"21", "22", "27"}}
	phoneIN = &phonePlan{cc: "91", digits: 8, prefixes: []string{
		"98", "99", "97", "96", "95", "94", "93", "91", "90", "88", "87", "86", "85", "84",
		"83", "82", "81", "80", "70", "73", "74", "75", "76", "77", "78", "79", "62", "63",
	}}
	phoneSG = &phonePlan{cc: "65", digits: 6, prefixes: []string{
		"81", "82", "83", "84", "85", "86", "87", "88", "90", "91", "92", "93", "94", "96", "97", "98",
	}}
	phoneJP = &phonePlan{cc: "81", digits: 8, prefixes: []string{"80"}}
	phoneDE = &phonePlan{cc: "49", digits: 8, prefixes: []string{"151", "152", "157", "159", "160", "170", "171", "172", "175", "176", "177", "178", "179"}}
	phoneFR = &phonePlan{cc: "33", digits: 7, prefixes: []string{"60", "61", "62", "64", "65", "66", "67", "68", "73", "74", "75", "76", "77", "78", "79"}}
	phonePT = &phonePlan{cc: "351", digits: 7, prefixes: []string{"91", "92", "93", "96"}}
	phoneZA = &phonePlan{cc: "27", digits: 7, prefixes: []string{"60", "61", "71", "72", "73", "74", "76", "78", "79", "81", "82", "83", "84"}}
	phoneAE = &phonePlan{cc: "971", digits: 7, prefixes: []string{"50", "52", "54", "55", "56", "58"}}
	phoneIR = &phonePlan{cc: "98", digits: 7, prefixes: []string{"912", "913", "919", "935", "936", "937", "938", "939", "901", "902", "990"}}
	phoneNP = &phonePlan{cc: "977", digits: 7, prefixes: []string{"980", "981", "982", "984", "985", "986"}}
	phoneKI = &phonePlan{cc: "686", digits: 5, prefixes: []string{"630", "631", "632", "633", "634", "635"}}
	phoneTO = &phonePlan{cc: "676", digits: 5, prefixes: []string{"77", "78", "84", "87", "88"}}
	phoneAS = &phonePlan{cc: "1", digits: 4, prefixes: []string{"684733", "684258", "684252", "684272"}}
)

// zone is where a customer lives: an IANA zone, a city for the city
// attribute, and, where numbers are geographic, the local phone plan.
type zone struct {
	tz, city string
	phone    *phonePlan
}

// profile is a kind of customer: where they live, what they speak, how their
// names and numbers look.
type profile struct {
	locales picker[string]
	zones   picker[zone]
	phone   *phonePlan // unless the zone has its own
	names   *nameStyle
	domains picker[string]
	chinese bool // tea rather than coffee, and so on
	wechat  bool
}

// E-mail domains, all reserved by RFC 2606 so that demo mail can never reach
// anyone: example.com, .org, .net and the .example top-level domain.
// (example.cn would look more Chinese but is not reserved.)
var (
	domainsCN    = newPicker(w(80, "mail.cn.example"), w(20, "example.com"))
	domainsWorld = newPicker(w(50, "example.com"), w(25, "example.org"), w(25, "example.net"))
)

func one[T any](v T) picker[T] { return newPicker(w(1, v)) }

// profiles weighs every kind of customer, per mille of all customers.
var profiles = newPicker(
	w(480, &profile{ // mainland China
		locales: newPicker(w(97, "zh-CN"), w(3, "en-US")),
		zones: newPicker(
			w(20, zone{tz: "Asia/Shanghai", city: "上海"}),
			w(18, zone{tz: "Asia/Shanghai", city: "北京"}),
			w(14, zone{tz: "Asia/Shanghai", city: "广州"}),
			w(14, zone{tz: "Asia/Shanghai", city: "深圳"}),
			w(10, zone{tz: "Asia/Shanghai", city: "杭州"}),
			w(8, zone{tz: "Asia/Shanghai", city: "成都"}),
			w(6, zone{tz: "Asia/Shanghai", city: "武汉"}),
			w(6, zone{tz: "Asia/Shanghai", city: "南京"}),
			w(4, zone{tz: "Asia/Shanghai", city: "重庆"}),
			w(4, zone{tz: "Asia/Shanghai", city: "西安"}),
		),
		phone: phoneCN, names: chineseNames, domains: domainsCN, chinese: true, wechat: true,
	}),
	w(35, &profile{ // Taiwan
		locales: one("zh-TW"),
		zones: newPicker(
			w(50, zone{tz: "Asia/Taipei", city: "台北"}),
			w(25, zone{tz: "Asia/Taipei", city: "台中"}),
			w(25, zone{tz: "Asia/Taipei", city: "高雄"}),
		),
		phone: phoneTW, names: chineseNames, domains: domainsWorld, chinese: true,
	}),
	w(20, &profile{ // Hong Kong
		locales: newPicker(w(80, "zh-HK"), w(20, "en-HK")),
		zones:   one(zone{tz: "Asia/Hong_Kong", city: "香港"}),
		phone:   phoneHK, names: chineseNames, domains: domainsWorld, chinese: true,
	}),
	w(15, &profile{ // Chinese customers abroad: a zh locale far from Asia/Shanghai
		locales: newPicker(w(70, "zh-CN"), w(15, "zh-TW"), w(15, "zh-HK")),
		zones: newPicker(
			w(30, zone{tz: "Asia/Singapore", city: "Singapore", phone: phoneSG}),
			w(20, zone{tz: "America/Vancouver", city: "Vancouver", phone: nanp("604")}),
			w(15, zone{tz: "America/Los_Angeles", city: "San Francisco", phone: nanp("415")}),
			w(15, zone{tz: "Australia/Sydney", city: "Sydney", phone: phoneAU}),
			w(10, zone{tz: "America/Toronto", city: "Toronto", phone: nanp("416", "647")}),
			w(10, zone{tz: "Pacific/Auckland", city: "Auckland", phone: phoneNZ}),
		),
		names: chineseNames, domains: domainsWorld, chinese: true, wechat: true,
	}),
	w(176, &profile{ // United States
		locales: newPicker(w(92, "en-US"), w(8, "es-US")),
		zones: newPicker(
			w(14, zone{tz: "America/New_York", city: "New York", phone: nanp("212", "718", "646", "917")}),
			w(6, zone{tz: "America/New_York", city: "Boston", phone: nanp("617")}),
			w(6, zone{tz: "America/New_York", city: "Washington", phone: nanp("202")}),
			w(6, zone{tz: "America/New_York", city: "Miami", phone: nanp("305")}),
			w(6, zone{tz: "America/New_York", city: "Atlanta", phone: nanp("404")}),
			w(12, zone{tz: "America/Chicago", city: "Chicago", phone: nanp("312", "773")}),
			w(6, zone{tz: "America/Chicago", city: "Austin", phone: nanp("512")}),
			w(6, zone{tz: "America/Chicago", city: "Houston", phone: nanp("713")}),
			w(7, zone{tz: "America/Denver", city: "Denver", phone: nanp("303", "720")}),
			w(4, zone{tz: "America/Phoenix", city: "Phoenix", phone: nanp("602")}),
			w(10, zone{tz: "America/Los_Angeles", city: "Los Angeles", phone: nanp("213", "310", "323")}),
			w(5, zone{tz: "America/Los_Angeles", city: "San Francisco", phone: nanp("415")}),
			w(5, zone{tz: "America/Los_Angeles", city: "Seattle", phone: nanp("206")}),
			w(3, zone{tz: "America/Los_Angeles", city: "Portland", phone: nanp("503")}),
			w(2, zone{tz: "America/Los_Angeles", city: "Las Vegas", phone: nanp("702")}),
			w(2, zone{tz: "America/Anchorage", city: "Anchorage", phone: nanp("907")}),
			w(2, zone{tz: "Pacific/Honolulu", city: "Honolulu", phone: nanp("808")}),
		),
		names: anglo, domains: domainsWorld,
	}),
	w(1, &profile{ // American Samoa, the last inhabited place to see each day
		locales: one("en-US"),
		zones:   one(zone{tz: "Pacific/Pago_Pago", city: "Pago Pago"}),
		phone:   phoneAS, names: pacific, domains: domainsWorld,
	}),
	w(40, &profile{ // Canada
		locales: newPicker(w(85, "en-CA"), w(15, "fr-CA")),
		zones: newPicker(
			w(40, zone{tz: "America/Toronto", city: "Toronto", phone: nanp("416", "647")}),
			w(8, zone{tz: "America/Toronto", city: "Ottawa", phone: nanp("613")}),
			w(20, zone{tz: "America/Vancouver", city: "Vancouver", phone: nanp("604")}),
			w(15, zone{tz: "America/Toronto", city: "Montreal", phone: nanp("514")}),
			w(10, zone{tz: "America/Edmonton", city: "Calgary", phone: nanp("403", "780")}),
			w(4, zone{tz: "America/Halifax", city: "Halifax", phone: nanp("902")}),
			w(3, zone{tz: "America/St_Johns", city: "St. John's", phone: nanp("709")}),
		),
		names: anglo, domains: domainsWorld,
	}),
	w(60, &profile{ // United Kingdom
		locales: one("en-GB"),
		zones: newPicker(
			w(40, zone{tz: "Europe/London", city: "London"}),
			w(15, zone{tz: "Europe/London", city: "Manchester"}),
			w(15, zone{tz: "Europe/London", city: "Birmingham"}),
			w(10, zone{tz: "Europe/London", city: "Edinburgh"}),
			w(10, zone{tz: "Europe/London", city: "Bristol"}),
		),
		phone: phoneGB, names: anglo, domains: domainsWorld,
	}),
	w(40, &profile{ // Australia, including the unofficial UTC+8:45 of Eucla
		locales: one("en-AU"),
		zones: newPicker(
			w(35, zone{tz: "Australia/Sydney", city: "Sydney"}),
			w(28, zone{tz: "Australia/Melbourne", city: "Melbourne"}),
			w(18, zone{tz: "Australia/Brisbane", city: "Brisbane"}),
			w(10, zone{tz: "Australia/Perth", city: "Perth"}),
			w(7, zone{tz: "Australia/Adelaide", city: "Adelaide"}),
			w(1, zone{tz: "Australia/Darwin", city: "Darwin"}),
			w(1, zone{tz: "Australia/Eucla", city: "Eucla"}),
		),
		phone: phoneAU, names: anglo, domains: domainsWorld,
	}),
	w(15, &profile{ // New Zealand, including the UTC+12:45 of the Chatham Islands
		locales: one("en-NZ"),
		zones: newPicker(
			w(60, zone{tz: "Pacific/Auckland", city: "Auckland"}),
			w(20, zone{tz: "Pacific/Auckland", city: "Wellington"}),
			w(17, zone{tz: "Pacific/Auckland", city: "Christchurch"}),
			w(3, zone{tz: "Pacific/Chatham", city: "Waitangi"}),
		),
		phone: phoneNZ, names: anglo, domains: domainsWorld,
	}),
	w(30, &profile{ // India, UTC+5:30
		locales: newPicker(w(80, "en-IN"), w(20, "hi-IN")),
		zones: newPicker(
			w(30, zone{tz: "Asia/Kolkata", city: "Mumbai"}),
			w(25, zone{tz: "Asia/Kolkata", city: "Delhi"}),
			w(25, zone{tz: "Asia/Kolkata", city: "Bengaluru"}),
			w(10, zone{tz: "Asia/Kolkata", city: "Chennai"}),
			w(10, zone{tz: "Asia/Kolkata", city: "Hyderabad"}),
		),
		phone: phoneIN, names: indian, domains: domainsWorld,
	}),
	w(20, &profile{ // Singapore
		locales: one("en-SG"),
		zones:   one(zone{tz: "Asia/Singapore", city: "Singapore"}),
		phone:   phoneSG, names: singaporean, domains: domainsWorld,
	}),
	w(15, &profile{ // Japan
		locales: one("ja-JP"),
		zones:   newPicker(w(60, zone{tz: "Asia/Tokyo", city: "Tokyo"}), w(40, zone{tz: "Asia/Tokyo", city: "Osaka"})),
		phone:   phoneJP, names: japanese, domains: domainsWorld,
	}),
	w(12, &profile{ // Germany
		locales: one("de-DE"),
		zones:   newPicker(w(50, zone{tz: "Europe/Berlin", city: "Berlin"}), w(50, zone{tz: "Europe/Berlin", city: "Munich"})),
		phone:   phoneDE, names: german, domains: domainsWorld,
	}),
	w(10, &profile{ // France
		locales: one("fr-FR"),
		zones:   newPicker(w(70, zone{tz: "Europe/Paris", city: "Paris"}), w(30, zone{tz: "Europe/Paris", city: "Lyon"})),
		phone:   phoneFR, names: french, domains: domainsWorld,
	}),
	w(3, &profile{ // Portugal, including the Azores at UTC-1
		locales: one("pt-PT"),
		zones:   newPicker(w(2, zone{tz: "Europe/Lisbon", city: "Lisbon"}), w(1, zone{tz: "Atlantic/Azores", city: "Ponta Delgada"})),
		phone:   phonePT, names: portuguese, domains: domainsWorld,
	}),
	w(8, &profile{ // Brazil
		locales: one("pt-BR"),
		zones: newPicker(
			w(60, zone{tz: "America/Sao_Paulo", city: "São Paulo", phone: &phonePlan{cc: "55", prefixes: []string{"119"}, digits: 8}}),
			w(40, zone{tz: "America/Sao_Paulo", city: "Rio de Janeiro", phone: &phonePlan{cc: "55", prefixes: []string{"219"}, digits: 8}}),
		),
		names: portuguese, domains: domainsWorld,
	}),
	w(6, &profile{ // South Africa
		locales: one("en-ZA"),
		zones:   newPicker(w(60, zone{tz: "Africa/Johannesburg", city: "Johannesburg"}), w(40, zone{tz: "Africa/Johannesburg", city: "Cape Town"})),
		phone:   phoneZA, names: southAfrican, domains: domainsWorld,
	}),
	w(6, &profile{ // United Arab Emirates
		locales: newPicker(w(60, "en-AE"), w(40, "ar-AE")),
		zones:   newPicker(w(70, zone{tz: "Asia/Dubai", city: "Dubai"}), w(30, zone{tz: "Asia/Dubai", city: "Abu Dhabi"})),
		phone:   phoneAE, names: arabic, domains: domainsWorld,
	}),
	w(3, &profile{ // Iran, UTC+3:30
		locales: one("fa-IR"),
		zones:   one(zone{tz: "Asia/Tehran", city: "Tehran"}),
		phone:   phoneIR, names: persian, domains: domainsWorld,
	}),
	w(3, &profile{ // Nepal, UTC+5:45
		locales: one("ne-NP"),
		zones:   one(zone{tz: "Asia/Kathmandu", city: "Kathmandu"}),
		phone:   phoneNP, names: nepali, domains: domainsWorld,
	}),
	w(1, &profile{ // Kiribati's Line Islands, UTC+14: the first to see each day
		locales: one("en-KI"),
		zones:   one(zone{tz: "Pacific/Kiritimati", city: "Kiritimati"}),
		phone:   phoneKI, names: pacific, domains: domainsWorld,
	}),
	w(1, &profile{ // Tonga, UTC+13
		locales: newPicker(w(60, "to-TO"), w(40, "en-TO")),
		zones:   one(zone{tz: "Pacific/Tongatapu", city: "Nukuʻalofa"}),
		phone:   phoneTO, names: pacific, domains: domainsWorld,
	}),
)

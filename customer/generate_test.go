package customer

import (
	"bytes"
	"io"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nyaruka/phonenumbers"
)

var genNow = time.Date(2026, time.March, 1, 9, 30, 0, 0, time.UTC)

func generate(seed int64, n int) []Customer {
	g := NewGenerator(seed, genNow)
	cs := make([]Customer, n)
	for i := range cs {
		cs[i] = g.Next()
	}
	return cs
}

func TestGeneratorDeterministic(t *testing.T) {
	t.Parallel()
	a, b := generate(7, 2000), generate(7, 2000)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two generators with the same seed differ")
	}
	c := generate(8, 2000)
	same := 0
	for i := range a {
		if a[i].Name == c[i].Name && a[i].Phone == c[i].Phone {
			same++
		}
	}
	if same > 20 {
		t.Errorf("seeds 7 and 8 give %d of 2000 identical customers", same)
	}
	if a[0].ExternalID != "C0000001" || a[1999].ExternalID != "C0002000" {
		t.Errorf("external IDs %q ... %q", a[0].ExternalID, a[1999].ExternalID)
	}
}

// TestGeneratorMix checks the shares the Generator documents, over 100,000
// customers, and the edge cases a campaign must cope with.
func TestGeneratorMix(t *testing.T) {
	t.Parallel()
	const n = 100_000
	cs := generate(1, n)
	var (
		tiers                                 = map[Tier]int{}
		zones                                 = map[string]int{}
		tags                                  = map[string]int{}
		chinese, onlyEmail, onlyPhone, noTZ   int
		feb29, feb29Year, withYear            int
		emailConsent, smsConsent, neverBought int
	)
	emails := make(map[string]bool, n)
	for _, c := range cs {
		tiers[c.Tier]++
		zones[c.TimeZone]++
		for _, tag := range c.Tags {
			tags[tag]++
		}
		if strings.HasPrefix(c.Locale, "zh-") {
			chinese++
		}
		switch {
		case c.Phone == "" && c.Email == "":
			t.Fatalf("%s has neither e-mail nor phone", c.ExternalID)
		case c.Phone == "":
			onlyEmail++
		case c.Email == "":
			onlyPhone++
		}
		if c.TimeZone == "" {
			noTZ++
		}
		if c.Birthday.Year != 0 {
			withYear++
			if c.Birthday.Year < 1950 || c.Birthday.Year > 2008 {
				t.Errorf("%s born in %d", c.ExternalID, c.Birthday.Year)
			}
		}
		if c.Birthday.Month == time.February && c.Birthday.Day == 29 {
			feb29++
			if c.Birthday.Year != 0 {
				feb29Year++
			}
		}
		if _, err := ParseBirthday(c.Birthday.String()); err != nil {
			t.Errorf("%s birthday %v: %v", c.ExternalID, c.Birthday, err)
		}
		if c.EmailConsent.Granted {
			emailConsent++
		}
		if c.SMSConsent.Granted {
			smsConsent++
		}
		if c.LastPurchase.IsZero() {
			neverBought++
			if c.PurchaseCount != 0 || c.TotalSpent != 0 {
				t.Errorf("%s never bought but has %d purchases for %v", c.ExternalID, c.PurchaseCount, c.TotalSpent)
			}
		} else if c.LastPurchase.Before(c.CreatedAt) || c.LastPurchase.After(genNow) || c.LastPurchase.Before(genNow.AddDate(-2, 0, 0)) {
			t.Errorf("%s created %v, last purchase %v", c.ExternalID, c.CreatedAt, c.LastPurchase)
		}
		if c.CreatedAt.After(genNow) || c.CreatedAt.Before(genNow.AddDate(-6, 0, 0)) {
			t.Errorf("%s created %v", c.ExternalID, c.CreatedAt)
		}
		if _, frac, _ := strings.Cut(strconv.FormatFloat(c.TotalSpent, 'f', -1, 64), "."); len(frac) > 2 {
			t.Errorf("%s spent %v: more than 2 decimals", c.ExternalID, c.TotalSpent)
		}
		if c.Email != "" {
			if emails[c.Email] {
				t.Errorf("%s: duplicate e-mail %s", c.ExternalID, c.Email)
			}
			emails[c.Email] = true
		}
		if !c.Tier.Valid() {
			t.Errorf("%s: tier %q", c.ExternalID, c.Tier)
		}
	}

	share := func(name string, count int, want, tolerance float64) {
		t.Helper()
		if got := float64(count) / n; got < want-tolerance || got > want+tolerance {
			t.Errorf("%s: %.1f%% of customers, want %.0f%% ± %.1f", name, 100*got, 100*want, 100*tolerance)
		}
	}
	share("zh locales", chinese, 0.55, 0.02)
	share("only e-mail", onlyEmail, 0.08, 0.01)
	share("only phone", onlyPhone, 0.12, 0.01)
	share("no time zone", noTZ, 0.03, 0.005)
	share("birth year", withYear, 0.80, 0.01)
	share("e-mail consent", emailConsent, 0.70, 0.02)
	share("SMS consent", smsConsent, 0.60, 0.02)
	share("never bought", neverBought, 0.15, 0.01)
	for tier, want := range map[Tier]float64{
		TierGold: 0.03, TierKey: 0.07, TierQuality: 0.15,
		TierGeneral: 0.50, TierRestricted: 0.15, TierEliminated: 0.10,
	} {
		share("tier "+string(tier), tiers[tier], want, 0.01)
	}
	// 29 February is one day in 366; with a year only when it is a leap year,
	// which ParseBirthday checked above.
	if feb29 < n/366/2 || feb29Year == 0 || feb29Year == feb29 {
		t.Errorf("29 February: %d birthdays, %d with a year", feb29, feb29Year)
	}
	for _, tz := range []string{
		"Pacific/Kiritimati", "Pacific/Auckland", "Pacific/Chatham", "Pacific/Tongatapu",
		"Pacific/Pago_Pago", "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles",
		"America/Denver", "America/Chicago", "America/New_York", "America/St_Johns",
		"America/Sao_Paulo", "Atlantic/Azores", "Europe/London", "Europe/Paris", "Europe/Berlin",
		"Africa/Johannesburg", "Asia/Dubai", "Asia/Tehran", "Asia/Kolkata", "Asia/Kathmandu",
		"Asia/Shanghai", "Asia/Taipei", "Asia/Hong_Kong", "Asia/Singapore", "Asia/Tokyo",
		"Australia/Adelaide", "Australia/Sydney", "Australia/Eucla",
	} {
		if zones[tz] == 0 {
			t.Errorf("no customer in %s", tz)
		}
	}
	for _, tag := range []string{
		"vip", "newsletter", "wechat", "prefers-sms", "tea-lover", "coffee-lover",
		"skincare", "electronics", "complaint-open", "lapsed",
	} {
		if tags[tag] == 0 {
			t.Errorf("no customer tagged %s", tag)
		}
	}
}

// TestGeneratorNormalized checks that generated customers are what an import
// would store: every field already in normalized form.
func TestGeneratorNormalized(t *testing.T) {
	t.Parallel()
	zones := map[string]bool{}
	for _, c := range generate(3, 5000) {
		for _, f := range []struct {
			name, value string
			norm        func(string) (string, error)
		}{
			{"phone", c.Phone, Normalizer{}.Phone},
			{"email", c.Email, Normalizer{}.Email},
			{"locale", c.Locale, Locale},
			{"time zone", c.TimeZone, TimeZone},
		} {
			got, err := f.norm(f.value)
			if err != nil || got != f.value {
				t.Errorf("%s %s %q: normalizes to %q, %v", c.ExternalID, f.name, f.value, got, err)
			}
		}
		if _, err := ParseTags(strings.Join(c.Tags, ";")); err != nil {
			t.Errorf("%s: %v", c.ExternalID, err)
		}
		if _, domain, _ := strings.Cut(c.Email, "@"); c.Email != "" && !reservedDomains[domain] {
			t.Errorf("%s: e-mail %s is not at a reserved example domain", c.ExternalID, c.Email)
		}
		zones[c.TimeZone] = true
	}
	for tz := range zones {
		if _, err := time.LoadLocation(tz); err != nil {
			t.Errorf("time zone %q: %v", tz, err)
		}
	}
}

// reservedDomains are RFC 2606's example domains: demo mail reaches nobody.
var reservedDomains = map[string]bool{
	"example.com": true, "example.org": true, "example.net": true, "mail.cn.example": true,
}

// TestGeneratorPhonesValid checks every prefix of every phone plan with
// random subscriber numbers: rare profiles barely show up in a sample of
// customers, so the plans are checked directly.
func TestGeneratorPhonesValid(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 1))
	for _, plan := range allPhonePlans() {
		for _, prefix := range plan.prefixes {
			one := *plan
			one.prefixes = []string{prefix}
			for range 200 {
				s := one.number(r)
				num, err := phonenumbers.Parse(s, "")
				if err != nil || !phonenumbers.IsValidNumber(num) {
					t.Errorf("+%s prefix %s: %s is not a valid number", plan.cc, prefix, s)
					break
				}
				if e164 := phonenumbers.Format(num, phonenumbers.E164); e164 != s {
					t.Errorf("%s formats as %s", s, e164)
				}
			}
		}
	}
}

func allPhonePlans() []*phonePlan {
	var plans []*phonePlan
	for _, p := range profiles.values {
		if p.phone != nil {
			plans = append(plans, p.phone)
		}
		for _, z := range p.zones.values {
			if z.phone != nil {
				plans = append(plans, z.phone)
			}
		}
	}
	return plans
}

func TestGeneratorNANPExchange(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(2, 2))
	plan := nanp("212")
	for range 10_000 {
		s := plan.number(r)
		if ex := s[5:8]; ex[0] < '2' || ex[1:] == "11" {
			t.Fatalf("%s: exchange %s", s, ex)
		}
	}
}

// TestGeneratorCSVRoundTrip writes generated customers as CSV and reads them
// back: the generator and the importer must agree on every field.
func TestGeneratorCSVRoundTrip(t *testing.T) {
	t.Parallel()
	cs := generate(5, 3000)
	var buf bytes.Buffer
	w := NewCSVWriter(&buf, []string{"city", "favorite_category", "member_level"})
	for _, c := range cs {
		if err := w.Write(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}

	r, err := NewCSVReader(&buf, Normalizer{DefaultRegion: "CN"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		got, err := r.Next()
		if err == io.EOF {
			if i != len(cs) {
				t.Errorf("read %d customers, wrote %d", i, len(cs))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, cs[i]) {
			t.Fatalf("customer %d:\nwrote %+v\nread  %+v", i, cs[i], got)
		}
	}
}

func BenchmarkGenerator(b *testing.B) {
	g := NewGenerator(1, genNow)
	for b.Loop() {
		g.Next()
	}
}

package customer

import "time"

// Tier is the customer-classification tier of database marketing
// (黄金、重点、优质、一般、限制、淘汰).
type Tier string

// The six tiers, best first.
const (
	TierGold       Tier = "gold"
	TierKey        Tier = "key"
	TierQuality    Tier = "quality"
	TierGeneral    Tier = "general"
	TierRestricted Tier = "restricted"
	TierEliminated Tier = "eliminated"
)

// Tiers lists every tier, best first.
var Tiers = []Tier{TierGold, TierKey, TierQuality, TierGeneral, TierRestricted, TierEliminated}

// Valid reports whether t is one of the six tiers.
func (t Tier) Valid() bool {
	for _, x := range Tiers {
		if t == x {
			return true
		}
	}
	return false
}

// Birthday is a day of the year with an optional year of birth (Year 0 = unknown).
type Birthday struct {
	Year  int
	Month time.Month
	Day   int
}

// IsZero reports whether no birthday is set.
func (b Birthday) IsZero() bool { return b.Month == 0 }

// FallsOn reports whether the birthday is celebrated on date (its year,
// month and day): 29 February on 28 February in common years, so that it
// comes once a year and still in February.
func (b Birthday) FallsOn(date time.Time) bool {
	day := b.Day
	if b.Month == time.February && day == 29 && !IsLeap(date.Year()) {
		day = 28
	}
	return date.Month() == b.Month && date.Day() == day
}

// IsLeap reports whether y is a leap year.
func IsLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// Consent is a customer's permission to be contacted on one channel.
type Consent struct {
	Granted bool
	// At is when the consent was given or withdrawn; zero if unknown.
	At time.Time
}

// Customer is one row of the customer database. Email and Phone are already
// normalized (lower-cased domain, E.164); TimeZone is an IANA name or "".
type Customer struct {
	ID            int64 // assigned by the store
	ExternalID    string
	Name          string
	Email         string
	Phone         string
	Locale        string
	TimeZone      string
	Birthday      Birthday
	Tier          Tier
	Tags          []string
	Attributes    map[string]any
	EmailConsent  Consent
	SMSConsent    Consent
	CreatedAt     time.Time
	LastPurchase  time.Time // zero: never purchased
	PurchaseCount int
	TotalSpent    float64 // in the shop's currency
}

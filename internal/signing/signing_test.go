package signing

import (
	"regexp"
	"testing"
)

func TestCoupon(t *testing.T) {
	s := New("k")
	a := s.Coupon("BDAY", "birthday-gift", "2027", 42)
	if a != s.Coupon("BDAY", "birthday-gift", "2027", 42) {
		t.Error("not deterministic")
	}
	if !regexp.MustCompile(`^BDAY-[A-HJKMNP-Z02-9]{4}-[A-HJKMNP-Z02-9]{4}-[A-HJKMNP-Z02-9]{4}$`).MatchString(a) {
		t.Errorf("code %q", a)
	}
	seen := map[string]bool{a: true}
	for _, c := range []string{s.Coupon("BDAY", "birthday-gift", "2028", 42), s.Coupon("BDAY", "birthday-gift", "2027", 43), New("k2").Coupon("BDAY", "birthday-gift", "2027", 42)} {
		if seen[c] {
			t.Errorf("collision %q", c)
		}
		seen[c] = true
	}
	for i := int64(0); i < 200000; i++ {
		c := s.Coupon("X", "c", "o", i)
		if seen[c] {
			t.Fatalf("collision at %d", i)
		}
		seen[c] = true
	}
}

func TestUnsubscribeToken(t *testing.T) {
	s := New("secret")
	tok := s.UnsubscribeToken(123, "email")
	id, ch, err := s.VerifyUnsubscribe(tok)
	if err != nil || id != 123 || ch != "email" {
		t.Fatalf("verify: %d %q %v", id, ch, err)
	}
	for _, bad := range []string{"", "x", tok + "A", tok[:len(tok)-2] + "AA", New("other").UnsubscribeToken(123, "email"),
		"MTI0LmVtYWls." + tok[len("MTIzLmVtYWls."):]} { // another customer's id with this MAC
		if _, _, err := s.VerifyUnsubscribe(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// Package signing derives what must be unguessable from a server secret:
// gift coupon codes and unsubscribe tokens. Both are HMAC-SHA256, so they are
// deterministic (a retried send carries the same coupon) and cannot be
// forged or enumerated without the secret.
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DevSecret is used when TIDINGS_SECRET is not set, for the demo only:
// anyone who reads this source can forge its tokens.
const DevSecret = "tidings-development-secret-do-not-use-in-production"

// Signer holds the secret.
type Signer struct{ key []byte }

// New returns a signer for a secret.
func New(secret string) *Signer { return &Signer{key: []byte(secret)} }

func (s *Signer) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		// Length-prefixed, so ("ab","c") and ("a","bc") differ.
		fmt.Fprintf(m, "%d:%s|", len(p), p)
	}
	return m.Sum(nil)
}

// coupons are written in Crockford-like base32 without padding: no I, L or O
// to confuse with 1 and 0 when a customer types the code.
var couponEncoding = base32.NewEncoding("ABCDEFGHJKMNPQRSTUVWXYZ023456789").WithPadding(base32.NoPadding)

// Coupon returns the gift code of one customer for one campaign occurrence:
// PREFIX-XXXX-XXXX-XXXX, 60 bits of HMAC, the same on every call.
func (s *Signer) Coupon(prefix, campaign, occurrence string, customerID int64) string {
	sum := couponEncoding.EncodeToString(s.mac("coupon", campaign, occurrence, strconv.FormatInt(customerID, 10)))[:12]
	return prefix + "-" + sum[0:4] + "-" + sum[4:8] + "-" + sum[8:12]
}

// UnsubscribeToken returns a token naming a customer and a channel, for the
// public unsubscribe link.
func (s *Signer) UnsubscribeToken(customerID int64, channel string) string {
	payload := strconv.FormatInt(customerID, 10) + "." + channel
	mac := s.mac("unsubscribe", payload)[:16]
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(mac)
}

// ErrBadToken is returned for a token that was not made with this secret.
var ErrBadToken = errors.New("invalid or tampered token")

// VerifyUnsubscribe checks a token and returns what it names.
func (s *Signer) VerifyUnsubscribe(token string) (customerID int64, channel string, err error) {
	p64, m64, ok := strings.Cut(token, ".")
	if !ok {
		return 0, "", ErrBadToken
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.mac("unsubscribe", string(payload))[:16]) {
		return 0, "", ErrBadToken
	}
	idStr, channel, ok := strings.Cut(string(payload), ".")
	id, err := strconv.ParseInt(idStr, 10, 64)
	if !ok || err != nil {
		return 0, "", ErrBadToken
	}
	return id, channel, nil
}

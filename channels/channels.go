package channels

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Channel names, as campaigns list them.
const (
	Email = "email"
	SMS   = "sms"
)

// IsE164 reports whether s is a phone number in E.164 form: + and 7 to 15
// digits, the first not 0.
func IsE164(s string) bool { return e164.MatchString(s) }

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// Message is one rendered message to one recipient on one channel.
type Message struct {
	// DeliveryID is stable for (campaign, occurrence, customer, channel):
	// adapters use it as an idempotency key or Message-ID.
	DeliveryID string
	Channel    string
	Campaign   string
	Occurrence string
	CustomerID int64
	To         string // an email address or an E.164 number
	ToName     string
	// Email.
	Subject string
	Text    string
	HTML    string
	// UnsubscribeURL feeds List-Unsubscribe for email.
	UnsubscribeURL string
	// SMS.
	Body string
	// NotAfter, when set, is the latest instant the message may leave (the
	// end of the recipient's send window, on this process's clock). A
	// sender that would have to wait past it (for a rate-limit token)
	// returns a retryable ReasonOutsideWindow error instead of sending.
	NotAfter time.Time
}

// Sender delivers messages on one channel. Send returns the provider's id
// for the message, or an error that is an *Error when the adapter could
// classify it (an unclassified error counts as retryable).
type Sender interface {
	Send(ctx context.Context, m Message) (providerID string, err error)
}

// Reason is a short, stable label for why a delivery failed or was
// skipped, fit for a metric label and for the ledger.
type Reason string

// Failure reasons shared by adapters.
const (
	ReasonInvalidAddress Reason = "invalid_address"
	ReasonRejected       Reason = "rejected"
	ReasonUnsubscribed   Reason = "unsubscribed" // the recipient opted out at the provider (SMS STOP)
	ReasonNoSuchUser     Reason = "no_such_user" // the mailbox does not exist (SMTP 550 5.1.1)
	ReasonRateLimited    Reason = "rate_limited"
	ReasonUnavailable    Reason = "provider_unavailable"
	ReasonAuth           Reason = "auth"
	ReasonAmbiguous      Reason = "ambiguous"
	ReasonInternal       Reason = "internal"
	// ReasonSMSTooLong: the rendered SMS has more parts than the campaign
	// allows (sms_max_segments), say for a very long name. Never sent:
	// each part is billed.
	ReasonSMSTooLong Reason = "sms_too_long"
	// ReasonOutsideWindow: the recipient's send window closed (or is not
	// open yet); the message waits for the next opening. Not a failure.
	ReasonOutsideWindow Reason = "outside_send_window"
)

// Error is a classified delivery failure.
type Error struct {
	Reason Reason
	// Retryable means the provider did not take the message and trying
	// again later may work. RetryAfter, when set, is how long to wait.
	Retryable  bool
	RetryAfter time.Duration
	// Ambiguous means the provider may have taken the message (the
	// connection dropped after the body was sent): never retry it blindly.
	Ambiguous bool
	Err       error
}

func (e *Error) Error() string {
	kind := "permanent"
	switch {
	case e.Ambiguous:
		kind = "ambiguous"
	case e.Retryable:
		kind = "retryable"
	}
	if e.Err == nil {
		return fmt.Sprintf("%s (%s)", e.Reason, kind)
	}
	return fmt.Sprintf("%s (%s): %v", e.Reason, kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent returns a non-retryable error.
func Permanent(reason Reason, err error) *Error { return &Error{Reason: reason, Err: err} }

// Retryable returns an error worth retrying after (at least) wait.
func Retryable(reason Reason, wait time.Duration, err error) *Error {
	return &Error{Reason: reason, Retryable: true, RetryAfter: wait, Err: err}
}

// Ambiguous returns an error after which the message may or may not have
// been delivered.
func Ambiguous(err error) *Error { return &Error{Reason: ReasonAmbiguous, Ambiguous: true, Err: err} }

// Classify returns err as an *Error. An adapter classifies what it knows;
// what it does not is ambiguous: a timeout or a cancelled context may strike
// after the provider accepted the message, and an unexplained error might
// too. Ambiguous rows are recorded unknown, never re-sent blindly.
func Classify(err error) *Error {
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	return Ambiguous(err)
}

// Package sms is the SMS channel: it sends a rendered message through
// Twilio's Messages API (twilio-go) and classifies every failure as a
// channels.Error, so the batch handler knows whether to retry, wait, skip
// the recipient, stop the occurrence or record the delivery as unknown.
//
// # Classification
//
//   - 21610 (the recipient replied STOP): permanent, reason unsubscribed.
//   - 21211, 21214, 21217, 21265, 21401, 21407, 21408, 21421, 21612,
//     21614, 21635 (a number Twilio cannot text): permanent, invalid_address.
//     An m.To that is not E.164 fails the same way without an HTTP call.
//   - 20429, 14107, 21611, 63017 and HTTP 429: retryable, rate_limited,
//     after Retry-After (seconds or an HTTP date) when the response has one.
//   - 20003, 20005, 20151, 10001 and HTTP 401: permanent, auth; the
//     pipeline stops the whole occurrence on it.
//   - HTTP 5xx, 408 and 21730 (maintenance): retryable, provider_unavailable,
//     after Retry-After when present. HTTP 504 is the exception: a gateway
//     that gave up waiting for Twilio cannot say whether Twilio queued the
//     message, so it is ambiguous.
//   - Any other 4xx: permanent, rejected.
//   - No response: retryable (provider_unavailable) when the request never
//     left (no connection, DNS or dial error, a write that failed), and
//     ambiguous once it may have been written (a timeout, a reset or a
//     closed connection while waiting for the answer): Twilio may have
//     queued the message, and a blind retry could text the customer twice.
//
// Errors from Twilio unwrap to an *APIError carrying the code, HTTP status
// and message; the text reads "twilio 21610: Attempt to send to
// unsubscribed recipient".
//
// # Base URL
//
// twilio-go builds every URL on https://api.twilio.com (rewritten by the
// TWILIO_EDGE and TWILIO_REGION environment variables) and has no option for
// another host. The sender hands twilio-go an http.Client whose transport
// rewrites scheme, host and path prefix to Config.BaseURL, for
// Twilio-compatible endpoints and for tests. The same transport carries
// Send's context (twilio-go sends every request with context.Background),
// captures the status and Retry-After that twilio-go does not expose, and
// traces whether the request was written.
//
// # Segments
//
// Segments counts what a body costs: GSM-7 (with the extension table
// counting two septets) or UCS-2, single messages of 160 or 70 units and
// concatenated segments of 153 or 67, never splitting an escape pair or a
// surrogate pair.
package sms

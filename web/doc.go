// Package web is Tidings' web server (`tidings web`): the admin dashboard,
// asynqmon for the queues, the public endpoints customers and Twilio call,
// and the operations endpoints.
//
// # Who may do what
//
//   - /, /campaigns/…: the campaign dashboard, rendered on the server. A
//     user logs in with a form (a signed, HttpOnly, SameSite=Lax session
//     cookie) or sends HTTP Basic credentials (scripts). Users come from
//     the environment ([UsersFromEnv]): an admin, who may also send,
//     dry-run, pause and resume, and a read-only viewer. Unsafe requests
//     must pass [net/http.CrossOriginProtection] and, from a browser
//     session, carry the form's CSRF token. A client address (an IPv6
//     /64) that gives wrong credentials 5 times in 15 minutes, by form or
//     Basic, gets 429 with Retry-After until the oldest failure is 15
//     minutes old; the count is per process.
//   - /queues/: asynqmon, behind the same login; viewers get its read-only
//     mode and any non-GET request from them is refused before it.
//   - /u/TOKEN: unsubscribe, authorized by the HMAC-signed token alone. GET
//     only asks; POST (the page's button, or a mail provider's RFC 8058
//     one-click POST) unsubscribes.
//   - /webhooks/twilio/inbound and /webhooks/twilio/status: authorized by
//     X-Twilio-Signature under TIDINGS_TWILIO_AUTH_TOKEN.
//   - /metrics, /healthz, /readyz: no login, for the internal network.
package web

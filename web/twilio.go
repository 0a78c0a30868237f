package web

import (
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/twilio/twilio-go/client"

	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/store"
)

// Keywords of an inbound SMS, matched on the whole message, trimmed and
// case-insensitive: the carriers' and Twilio's opt-out words, and the
// Chinese 退订, TD and T: the footer 回T退订 says "reply T to unsubscribe".
var (
	optOutWords = map[string]bool{"STOP": true, "STOPALL": true, "UNSUBSCRIBE": true, "CANCEL": true, "END": true,
		"QUIT": true, "REVOKE": true, "OPTOUT": true, "退订": true, "TD": true, "T": true}
	optInWords = map[string]bool{"START": true, "UNSTOP": true}
)

// emptyTwiML is the answer to Twilio: no reply message (Twilio's own
// opt-out handling answers STOP and START).
const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

func twiml(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	io.WriteString(w, emptyTwiML)
}

// verifyTwilio reads a webhook's form and checks its X-Twilio-Signature:
// HMAC-SHA1 under the account's auth token of the URL Twilio requested
// followed by the sorted form parameters. Twilio requested the public URL,
// not ours behind a proxy, so the URL is rebuilt from public_url (or, for
// status callbacks, from channels.sms.twilio.status_callback). It answers
// the request itself when the check fails: 503 without an auth token,
// 403 for a missing or wrong signature.
func (s *Server) verifyTwilio(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if s.twilioToken == "" {
		http.Error(w, "503 Twilio webhooks are off: TIDINGS_TWILIO_AUTH_TOKEN is not set", http.StatusServiceUnavailable)
		return nil, false
	}
	sig := r.Header.Get("X-Twilio-Signature")
	if sig == "" {
		s.log.Warn("twilio webhook without a signature", "path", r.URL.Path, "remote", r.RemoteAddr)
		http.Error(w, "403 forbidden: no X-Twilio-Signature", http.StatusForbidden)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		http.Error(w, "400 bad request: "+err.Error(), http.StatusBadRequest)
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "400 bad request: the body is not a form", http.StatusBadRequest)
		return nil, false
	}
	params := make(map[string]string, len(form))
	for k, v := range form {
		params[k] = v[0]
	}
	v := client.NewRequestValidator(s.twilioToken)
	for _, u := range s.twilioURLs(r) {
		if v.Validate(u, params, sig) {
			return form, true
		}
	}
	s.log.Warn("twilio webhook with a wrong signature", "path", r.URL.Path, "remote", r.RemoteAddr)
	http.Error(w, "403 forbidden: X-Twilio-Signature does not match", http.StatusForbidden)
	return nil, false
}

// twilioURLs are the URLs Twilio may have signed for a request.
func (s *Server) twilioURLs(r *http.Request) []string {
	settings := s.config().Settings
	urls := []string{strings.TrimSuffix(settings.PublicURL, "/") + r.URL.RequestURI()}
	if t := settings.Channels.SMS.Twilio; t != nil && t.StatusCallback != "" && r.URL.Path == "/webhooks/twilio/status" {
		base, _, _ := strings.Cut(t.StatusCallback, "?")
		u := base
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery
		}
		urls = append(urls, u)
	}
	return urls
}

// twilioInbound handles an SMS to our number: an opt-out word withdraws SMS
// consent from every customer with the sender's number and suppresses the
// number, so the next batch skips it; an opt-in word undoes both.
func (s *Server) twilioInbound(w http.ResponseWriter, r *http.Request) {
	form, ok := s.verifyTwilio(w, r)
	if !ok {
		return
	}
	from := strings.TrimSpace(form.Get("From"))
	word := strings.ToUpper(strings.TrimSpace(form.Get("Body")))
	if !channels.IsE164(from) || (!optOutWords[word] && !optInWords[word]) {
		twiml(w)
		return
	}
	ctx := r.Context()
	if optOutWords[word] {
		n, err := s.store.OptOutPhone(ctx, from, "replied "+word)
		if err != nil {
			s.log.Error("sms opt-out", "err", err)
			http.Error(w, "500 internal error", http.StatusInternalServerError)
			return
		}
		s.log.Info("sms opt-out", "keyword", word, "customers", n, "phone", mask(channels.SMS, from))
	} else {
		n, err := s.store.OptInPhone(ctx, from)
		if err != nil {
			s.log.Error("sms opt-in", "err", err)
			http.Error(w, "500 internal error", http.StatusInternalServerError)
			return
		}
		s.log.Info("sms opt-in", "keyword", word, "customers", n, "phone", mask(channels.SMS, from))
	}
	twiml(w)
}

// carrierStatuses are the message statuses recorded from status callbacks:
// the final ones. queued, sending, sent and the like only say the message
// is on its way.
var carrierStatuses = map[string]bool{"delivered": true, "undelivered": true, "failed": true}

// twilioStatus records a message's final status on its ledger row, found
// by the delivery id the SMS adapter puts in every message's callback URL
// and checked against the message SID (see store.RecordCarrierStatus).
func (s *Server) twilioStatus(w http.ResponseWriter, r *http.Request) {
	form, ok := s.verifyTwilio(w, r)
	if !ok {
		return
	}
	sid, status := form.Get("MessageSid"), strings.ToLower(form.Get("MessageStatus"))
	if sid == "" || !carrierStatuses[status] {
		twiml(w)
		return
	}
	rep := store.CarrierReport{Channel: channels.SMS, ProviderID: sid, Status: status, ErrorCode: form.Get("ErrorCode")}
	if k, ok := store.ParseDeliveryID(r.URL.Query().Get("delivery")); ok {
		rep.Key = &k
	}
	found, err := s.store.RecordCarrierStatus(r.Context(), rep)
	if err != nil {
		s.log.Error("twilio status callback", "sid", sid, "err", err)
		http.Error(w, "500 internal error", http.StatusInternalServerError)
		return
	}
	if !found {
		s.log.Warn("twilio status callback for no ledger row", "sid", sid, "status", status)
	}
	twiml(w)
}

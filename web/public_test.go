package web_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/twilio/twilio-go/client"

	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
	"github.com/tidings/tidings/web"
)

// state is what an opt-out may change for a customer on a channel.
type state struct {
	consent    bool
	suppressed string // the reason, or ""
}

func (b *bundle) state(t *testing.T, c customer.Customer, channel string) state {
	t.Helper()
	ctx := context.Background()
	got, err := b.db.CustomerByID(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	s := state{consent: got.EmailConsent.Granted}
	addr := got.Email
	if channel == "sms" {
		s.consent, addr = got.SMSConsent.Granted, got.Phone
	}
	if ok, why, err := b.db.Suppressed(ctx, channel, addr); err != nil {
		t.Fatal(err)
	} else if ok {
		s.suppressed = why
	}
	return s
}

func TestUnsubscribeLink(t *testing.T) {
	b := setup(t, store.SQLite)
	cs := b.addCustomers(t, 4)
	subscribed := state{consent: true}
	token := b.signer.UnsubscribeToken(cs[0].ID, "email")

	// GET, as a mail scanner would, any number of times: nothing changes.
	for range 2 {
		got := b.do(t, request{method: "GET", path: "/u/" + token})
		if got.code != 200 || !strings.Contains(got.body, "Stop receiving email messages from Test Tea at c•••@example.com?") ||
			!strings.Contains(got.body, `<form method="post" action="/u/`+token+`">`) {
			t.Fatalf("GET: %d\n%s", got.code, got.body)
		}
		if got.header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("Referrer-Policy %q", got.header.Get("Referrer-Policy"))
		}
		if s := b.state(t, cs[0], "email"); s != subscribed {
			t.Fatalf("after GET: %+v", s)
		}
	}
	if got := b.do(t, request{method: "HEAD", path: "/u/" + token}); got.code != 200 || b.state(t, cs[0], "email") != subscribed {
		t.Fatalf("HEAD: %d", got.code)
	}

	// The button: no cookie, no CSRF token needed; the signed token is the
	// authorization.
	got := b.do(t, request{method: "POST", path: "/u/" + token, form: url.Values{"confirm": {"yes"}}})
	if got.code != 200 || !strings.Contains(got.body, "You are unsubscribed: Test Tea will send no more email messages to c•••@example.com.") {
		t.Fatalf("POST: %d\n%s", got.code, got.body)
	}
	if s := b.state(t, cs[0], "email"); s != (state{false, web.ReasonUnsubscribeLink}) {
		t.Errorf("after POST: %+v", s)
	}
	if s := b.state(t, cs[0], "sms"); s != subscribed {
		t.Errorf("SMS changed too: %+v", s)
	}
	if got := b.do(t, request{method: "GET", path: "/u/" + token}); !strings.Contains(got.body, `id="done"`) || strings.Contains(got.body, "<form") {
		t.Errorf("GET after unsubscribing:\n%s", got.body)
	}

	// RFC 8058 one-click, from the mail provider's servers.
	sms := b.signer.UnsubscribeToken(cs[1].ID, "sms")
	got = b.do(t, request{method: "POST", path: "/u/" + sms, form: url.Values{"List-Unsubscribe": {"One-Click"}}})
	if got.code != 200 || got.body != "unsubscribed\n" {
		t.Fatalf("one-click: %d %q", got.code, got.body)
	}
	if s := b.state(t, cs[1], "sms"); s != (state{false, web.ReasonUnsubscribeOneClick}) {
		t.Errorf("after one-click: %+v", s)
	}

	// A tampered or forged token is refused and changes nothing.
	good := b.signer.UnsubscribeToken(cs[2].ID, "email")
	other := b.signer.UnsubscribeToken(cs[3].ID, "email")
	for _, bad := range []string{
		tamper(good, len(good)-5), // the signature
		tamper(good, 1),           // the customer
		strings.Split(other, ".")[0] + "." + strings.Split(good, ".")[1], // another customer, this signature
		good[:10],
		"nonsense",
		"e2U.AAAA",
		"web.New",
	} {
		for _, method := range []string{"GET", "POST"} {
			got := b.do(t, request{method: method, path: "/u/" + bad, form: url.Values{"List-Unsubscribe": {"One-Click"}}})
			if got.code != 400 || !strings.Contains(got.body, "This unsubscribe link is not valid") {
				t.Errorf("%s %s: %d\n%s", method, bad, got.code, got.body)
			}
		}
	}
	for _, c := range cs[2:] {
		if s := b.state(t, c, "email"); s != subscribed {
			t.Errorf("%s changed by a bad token: %+v", c.ExternalID, s)
		}
	}
	// Signed, but for a channel or customer that does not exist.
	for token, code := range map[string]int{
		b.signer.UnsubscribeToken(cs[2].ID, "fax"): 400,
		b.signer.UnsubscribeToken(999999, "email"): 404,
	} {
		if got := b.do(t, request{method: "POST", path: "/u/" + token, form: url.Values{}}); got.code != code {
			t.Errorf("%s: %d, want %d", token, got.code, code)
		}
	}
}

func TestUnsubscribePageSpeaksTheCustomersLanguage(t *testing.T) {
	b := setup(t, store.SQLite)
	ctx := context.Background()
	if err := b.db.UpsertCustomers(ctx, []customer.Customer{{ExternalID: "Z1", Name: "王芳", Phone: "+8613800000001", Locale: "zh-CN",
		SMSConsent: customer.Consent{Granted: true}}}); err != nil {
		t.Fatal(err)
	}
	c, _ := b.db.CustomerByExternalID(ctx, "Z1")
	got := b.do(t, request{method: "GET", path: "/u/" + b.signer.UnsubscribeToken(c.ID, "sms")})
	if !strings.Contains(got.body, `<html lang="zh">`) || !strings.Contains(got.body, "不再接收Test Tea发送到 •••0001 的短信？") {
		t.Errorf("page:\n%s", got.body)
	}
	got = b.do(t, request{method: "GET", path: "/u/bad.token", header: map[string]string{"Accept-Language": "zh-CN,zh;q=0.9"}})
	if !strings.Contains(got.body, "此退订链接无效") {
		t.Errorf("bad token page:\n%s", got.body)
	}
}

// twilioSignature computes X-Twilio-Signature as Twilio documents it,
// independently of the server: base64 HMAC-SHA1 of the URL followed by
// each parameter's name and value, sorted by name.
func twilioSignature(token, u string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := u
	for _, k := range keys {
		s += k + form.Get(k)
	}
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// twilio posts a webhook as Twilio would, signed for the public URL.
func (b *bundle) twilio(t *testing.T, path string, form url.Values, sig string) response {
	t.Helper()
	if sig == "" {
		sig = twilioSignature(twilioToken, publicURL+path, form)
	}
	h := map[string]string{"X-Twilio-Signature": sig}
	if sig == "-" {
		h = nil
	}
	return b.do(t, request{method: "POST", path: path, form: form, header: h})
}

func inbound(from, body string) url.Values {
	return url.Values{"AccountSid": {"AC123"}, "MessageSid": {"SM" + strings.Repeat("1", 32)}, "From": {from}, "To": {"+15005550006"}, "Body": {body}, "NumMedia": {"0"}}
}

func TestTwilioSignatureMatchesTheValidator(t *testing.T) {
	form := inbound("+8613800000001", "STOP")
	u := publicURL + "/webhooks/twilio/inbound"
	v := client.NewRequestValidator(twilioToken)
	params := map[string]string{}
	for k := range form {
		params[k] = form.Get(k)
	}
	if !v.Validate(u, params, twilioSignature(twilioToken, u, form)) {
		t.Fatal("the test's signature is not Twilio's")
	}
}

// An inbound STOP opts the number out at once: a send right after skips
// the customer with the reason. A forged or missing signature changes
// nothing. START opts back in.
func TestInboundStopThenSendSkips(t *testing.T) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(d.String(), func(t *testing.T) {
			if d == store.Postgres {
				storetest.PostgresURL(t)
			}
			b := setup(t, d)
			cs := b.addCustomers(t, 3)
			c := cs[0]
			stop := inbound(c.Phone, " stop ")
			subscribed := state{consent: true}

			for name, sig := range map[string]string{
				"missing":       "-",
				"forged":        twilioSignature("another token", publicURL+"/webhooks/twilio/inbound", stop),
				"other URL":     twilioSignature(twilioToken, "https://evil.example/webhooks/twilio/inbound", stop),
				"other message": twilioSignature(twilioToken, publicURL+"/webhooks/twilio/inbound", inbound(cs[1].Phone, "STOP")),
				"garbage":       "not base64",
			} {
				if got := b.twilio(t, "/webhooks/twilio/inbound", stop, sig); got.code != 403 {
					t.Errorf("%s signature: %d %s", name, got.code, got.body)
				}
			}
			if s := b.state(t, c, "sms"); s != subscribed {
				t.Fatalf("changed by a bad signature: %+v", s)
			}

			got := b.twilio(t, "/webhooks/twilio/inbound", stop, "")
			if got.code != 200 || got.body != `<?xml version="1.0" encoding="UTF-8"?><Response></Response>` || !strings.HasPrefix(got.header.Get("Content-Type"), "text/xml") {
				t.Fatalf("STOP: %d %q %q", got.code, got.body, got.header.Get("Content-Type"))
			}
			if s := b.state(t, c, "sms"); s != (state{false, "replied STOP"}) {
				t.Fatalf("after STOP: %+v", s)
			}
			if s := b.state(t, c, "email"); s != subscribed {
				t.Errorf("email changed: %+v", s)
			}

			// At once, an SMS-only campaign to everyone.
			b.startWorker(t)
			sum := b.runCampaign(t, "notice", "once")
			ctx := context.Background()
			row, err := b.db.GetDelivery(ctx, store.DeliveryKey{Campaign: "notice", Occurrence: "once", CustomerID: c.ID, Channel: "sms"})
			if err != nil {
				t.Fatal(err)
			}
			// The suppression is checked before consent, so the reason
			// names the reply.
			if row.Status != store.StatusSkipped || row.Reason != "suppressed: replied STOP" {
				t.Errorf("the customer who replied STOP: %s %q", row.Status, row.Reason)
			}
			t.Logf("the customer who replied STOP: %s %q", row.Status, row.Reason)
			if sum.Total(store.StatusSent) != 2 || sum.Total(store.StatusSkipped) != 1 {
				t.Errorf("counts: %+v", sum.Counts)
			}
			other, _ := b.db.GetDelivery(ctx, store.DeliveryKey{Campaign: "notice", Occurrence: "once", CustomerID: cs[1].ID, Channel: "sms"})
			if other.Status != store.StatusSent {
				t.Errorf("another customer: %s %q", other.Status, other.Reason)
			}

			// START undoes it.
			if got := b.twilio(t, "/webhooks/twilio/inbound", inbound(c.Phone, "Start"), ""); got.code != 200 {
				t.Fatalf("START: %d", got.code)
			}
			if s := b.state(t, c, "sms"); s != subscribed {
				t.Errorf("after START: %+v", s)
			}
		})
	}
}

func TestInboundKeywords(t *testing.T) {
	b := setup(t, store.SQLite)
	cs := b.addCustomers(t, 20)
	var withConsent []customer.Customer
	for i, c := range cs {
		if i%4 != 3 { // C004, C008… have no SMS consent to withdraw
			withConsent = append(withConsent, c)
		}
	}
	for i, tc := range []struct {
		body string
		out  bool
	}{
		{"STOP", true}, {"stopall", true}, {"Unsubscribe", true}, {"CANCEL", true}, {"end", true},
		{"QUIT", true}, {"revoke", true}, {"OptOut", true}, {" 退订\n", true}, {"td", true},
		{"stop please", false}, {"hello", false}, {"", false}, {"T D", false},
		{"t", true}, // what 回T退订 asks for
	} {
		c := withConsent[i]
		if got := b.twilio(t, "/webhooks/twilio/inbound", inbound(c.Phone, tc.body), ""); got.code != 200 {
			t.Fatalf("%q: %d", tc.body, got.code)
		}
		s := b.state(t, c, "sms")
		if tc.out && (s.consent || s.suppressed != "replied "+strings.ToUpper(strings.TrimSpace(tc.body))) {
			t.Errorf("%q: %+v, want opted out", tc.body, s)
		}
		if !tc.out && (!s.consent || s.suppressed != "") {
			t.Errorf("%q: %+v, want unchanged", tc.body, s)
		}
	}
	// Not a phone number: ignored.
	if got := b.twilio(t, "/webhooks/twilio/inbound", inbound("whatsapp:+8613800000001", "STOP"), ""); got.code != 200 {
		t.Errorf("non-E.164 sender: %d", got.code)
	}
}

func TestTwilioStatusCallback(t *testing.T) {
	b := setup(t, store.SQLite)
	cs := b.addCustomers(t, 2)
	ctx := context.Background()
	keys := make([]store.DeliveryKey, 2)
	if _, err := b.db.BeginRun(ctx, "notice", "once", "tidings:normal"); err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		keys[i] = store.DeliveryKey{Campaign: "notice", Occurrence: "once", CustomerID: c.ID, Channel: "sms"}
		b.db.ClaimDelivery(ctx, keys[i], "once", c.Phone, "")
	}
	b.db.SettleDelivery(ctx, keys[0], store.StatusSent, "", "SMaaa")
	carrier := func(k store.DeliveryKey) (string, string) {
		rows, err := b.db.RunRecipients(ctx, "notice", "once", store.RecipientQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.CustomerID == k.CustomerID {
				return r.CarrierStatus, r.CarrierError
			}
		}
		t.Fatalf("no row for %v", k)
		return "", ""
	}
	cb := func(sid, status, code string) url.Values {
		f := url.Values{"AccountSid": {"AC123"}, "MessageSid": {sid}, "SmsSid": {sid}, "MessageStatus": {status}, "To": {"+8613800000001"}}
		if code != "" {
			f.Set("ErrorCode", code)
		}
		return f
	}

	status0 := "/webhooks/twilio/status?delivery=" + url.QueryEscape("notice.once."+itoa(cs[0].ID)+".sms")
	// A forged callback changes nothing.
	f := cb("SMaaa", "undelivered", "30003")
	if got := b.twilio(t, status0, f, twilioSignature("wrong", publicURL+status0, f)); got.code != 403 {
		t.Errorf("forged: %d", got.code)
	}
	if got := b.twilio(t, status0, f, "-"); got.code != 403 {
		t.Errorf("unsigned: %d", got.code)
	}
	if st, _ := carrier(keys[0]); st != "" {
		t.Fatalf("forged callback recorded %q", st)
	}
	// Without the delivery id the SMS adapter puts in the callback URL, a
	// report finds no row.
	if got := b.twilio(t, "/webhooks/twilio/status", f, ""); got.code != 200 {
		t.Fatalf("callback without a delivery id: %d %s", got.code, got.body)
	}
	if st, _ := carrier(keys[0]); st != "" {
		t.Fatalf("callback without a delivery id recorded %q", st)
	}
	// Intermediate statuses are ignored; final ones recorded.
	b.twilio(t, status0, cb("SMaaa", "sent", ""), "")
	if st, _ := carrier(keys[0]); st != "" {
		t.Errorf("sent recorded as %q", st)
	}
	if got := b.twilio(t, status0, f, ""); got.code != 200 {
		t.Fatalf("callback: %d %s", got.code, got.body)
	}
	if st, code := carrier(keys[0]); st != "undelivered" || code != "30003" {
		t.Errorf("carrier %q %q", st, code)
	}
	if d, _ := b.db.GetDelivery(ctx, keys[0]); d.Status != store.StatusSent {
		t.Errorf("status changed to %s", d.Status)
	}

	// Signed for the configured status_callback URL (another host, a path
	// prefix, the adapter's ?delivery=ID), for a row not settled yet.
	path := "/webhooks/twilio/status?delivery=" + url.QueryEscape("notice.once."+itoa(cs[1].ID)+".sms")
	f = cb("SMbbb", "delivered", "")
	sig := twilioSignature(twilioToken, "https://hooks.test.example/tidings"+path, f)
	if got := b.twilio(t, path, f, sig); got.code != 200 {
		t.Fatalf("callback via status_callback URL: %d %s", got.code, got.body)
	}
	if st, _ := carrier(keys[1]); st != "delivered" {
		t.Errorf("by delivery id: %q", st)
	}

	// The run page shows the carrier's figures.
	page := b.do(t, viewer("GET", "/campaigns/notice/runs/once", nil))
	if !strings.Contains(page.body, "Reported by the carrier") || !strings.Contains(page.body, `undelivered</span> (30003)`) {
		t.Errorf("run page:\n%s", page.body)
	}
}

func TestTwilioWebhooksNeedAToken(t *testing.T) {
	b := setup(t, store.SQLite, func(o *web.Options) { o.TwilioAuthToken = "" })
	cs := b.addCustomers(t, 1)
	for _, path := range []string{"/webhooks/twilio/inbound", "/webhooks/twilio/status"} {
		if got := b.twilio(t, path, inbound(cs[0].Phone, "STOP"), ""); got.code != 503 || !strings.Contains(got.body, "TIDINGS_TWILIO_AUTH_TOKEN") {
			t.Errorf("%s: %d %s", path, got.code, got.body)
		}
	}
	if s := b.state(t, cs[0], "sms"); !s.consent || s.suppressed != "" {
		t.Errorf("changed: %+v", s)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// tamper changes the character at i to another one of the same alphabet.
func tamper(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

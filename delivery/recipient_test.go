package delivery_test

import (
	"context"
	"encoding/json"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/templates"
)

// sendGreeting adds the customers, runs the greeting campaign's batch for
// them and returns each one's ledger row, by external id.
func sendGreeting(t *testing.T, b *bundle, cs []customer.Customer, after func(ids map[string]int64)) map[string]store.Delivery {
	t.Helper()
	ctx := context.Background()
	for i := range cs {
		cs[i].Tier = customer.TierGeneral
		cs[i].EmailConsent = customer.Consent{Granted: cs[i].Email != "", At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		cs[i].SMSConsent = customer.Consent{Granted: cs[i].Phone != "", At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	}
	if err := b.db.UpsertCustomers(ctx, cs); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	loaded, err := b.db.CustomersByID(ctx, allIDs(t, b.db))
	if err != nil {
		t.Fatal(err)
	}
	var list []int64
	for _, c := range loaded {
		ids[c.ExternalID] = c.ID
		list = append(list, c.ID)
	}
	if after != nil {
		after(ids)
	}
	payload, _ := json.Marshal(map[string]any{"campaign": "greeting", "occurrence": "2027-02-06", "customer_ids": list})
	if err := b.pipeline.HandleBatch(ctx, asynq.NewTask(delivery.TypeBatch, payload)); err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Delivery{}
	for _, c := range cs {
		ch := "sms"
		if c.Phone == "" {
			ch = "email"
		}
		d, err := b.db.GetDelivery(ctx, store.DeliveryKey{Campaign: "greeting", Occurrence: "2027-02-06", CustomerID: ids[c.ExternalID], Channel: ch})
		if err != nil {
			t.Fatalf("%s: %v", c.ExternalID, err)
		}
		out[c.ExternalID] = d
	}
	return out
}

// A name with a line break, written to the database past the import's
// checks, is sent to on one line rather than failing its recipient.
func TestNameWithLineBreakSentOnOneLine(t *testing.T) {
	b := setup(t, store.SQLite)
	got := sendGreeting(t, b, []customer.Customer{{ExternalID: "C-1", Name: "Li Wei", Email: "liwei@example.com", Locale: "en"}},
		func(ids map[string]int64) {
			if _, err := b.db.SQL().Exec("UPDATE customers SET name = ? WHERE id = ?", "Li\r\nWei", ids["C-1"]); err != nil {
				t.Fatal(err)
			}
		})
	d := got["C-1"]
	if d.Status != store.StatusSent {
		t.Fatalf("delivery %s (%s), want sent", d.Status, d.Reason)
	}
	f, err := os.Open(d.ProviderID) // the outbox's file
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	msg, err := mail.ReadMessage(f)
	if err != nil {
		t.Fatal(err)
	}
	to, err := mail.ParseAddress(msg.Header.Get("To"))
	if err != nil || to.Name != "Li Wei" {
		t.Errorf("To %q (%v), want Li Wei", msg.Header.Get("To"), err)
	}
	var dec mime.WordDecoder
	if subject, err := dec.DecodeHeader(msg.Header.Get("Subject")); err != nil || subject != "Happy new year, Li Wei" {
		t.Errorf("Subject %q (%v), want %q", subject, err, "Happy new year, Li Wei")
	}
}

// The SMS opt-out follows the destination's country, not the customer's
// locale: STOP for +1, 退订 for +86, the locale's footer elsewhere; a body
// that has it already gets no second.
func TestSMSFooterByDestination(t *testing.T) {
	b := setup(t, store.SQLite)
	b.cfg.Settings.Channels.SMS.Footers = map[string]string{"zh": "回T退订", "": "Reply STOP to opt out", "fr": "STOP au 36180"}
	dir := t.TempDir()
	for name, text := range map[string]string{
		"greeting/sms.txt":           "Hi {{.Customer.Name}}, happy new year from {{.Brand}}. Reply STOP to opt out",
		"greeting/sms.zh.txt":        "【{{.Brand}}】{{.Customer.Name}}，新年快乐！回T退订",
		"greeting/sms.fr.txt":        "Bonne année {{.Customer.Name}} ! STOP au 36180",
		"greeting/email.subject.txt": "Happy new year",
		"greeting/email.txt":         "Happy new year",
	} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmpl, err := templates.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	b.pipeline.Templates = func() *templates.Set { return tmpl }
	got := sendGreeting(t, b, []customer.Customer{
		{ExternalID: "zh-us", Name: "王芳", Phone: "+12025550143", Locale: "zh-CN"},
		{ExternalID: "zh-ca", Name: "王芳", Phone: "+14165550123", Locale: "zh-CN"},
		{ExternalID: "zh-cn", Name: "王芳", Phone: "+8613800138000", Locale: "zh-CN"},
		{ExternalID: "en-cn", Name: "Emily", Phone: "+8613800138001", Locale: "en"},
		{ExternalID: "en-us", Name: "Emily", Phone: "+12025550144", Locale: "en"},
		{ExternalID: "zh-tw", Name: "王芳", Phone: "+886912345678", Locale: "zh-TW"},
		{ExternalID: "fr-fr", Name: "Léa", Phone: "+33612345678", Locale: "fr"},
	}, nil)
	for id, want := range map[string]string{
		"zh-us": "【Test Tea】王芳，新年快乐！ Reply STOP to opt out",
		"zh-ca": "【Test Tea】王芳，新年快乐！ Reply STOP to opt out",
		"zh-cn": "【Test Tea】王芳，新年快乐！回T退订",
		"en-cn": "Hi Emily, happy new year from Test Tea. 回T退订",
		"en-us": "Hi Emily, happy new year from Test Tea. Reply STOP to opt out",
		"zh-tw": "【Test Tea】王芳，新年快乐！回T退订",
		"fr-fr": "Bonne année Léa ! STOP au 36180",
	} {
		d := got[id]
		if d.Status != store.StatusSent {
			t.Errorf("%s: %s (%s), want sent", id, d.Status, d.Reason)
			continue
		}
		data, err := os.ReadFile(d.ProviderID)
		if err != nil {
			t.Fatal(err)
		}
		var sms struct{ Body string }
		if err := json.Unmarshal(data, &sms); err != nil {
			t.Fatal(err)
		}
		if sms.Body != want {
			t.Errorf("%s gets %q, want %q", id, sms.Body, want)
		}
		if strings.Count(sms.Body, "STOP")+strings.Count(sms.Body, "退订") != 1 {
			t.Errorf("%s: %q has not exactly one opt-out", id, sms.Body)
		}
	}
}

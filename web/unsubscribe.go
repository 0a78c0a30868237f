package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/store"
)

// Reasons an unsubscribe is recorded with, in the suppression list and so
// in the ledger of skipped sends.
const (
	ReasonUnsubscribeLink     = "unsubscribed by link"
	ReasonUnsubscribeOneClick = "unsubscribed by one-click (List-Unsubscribe-Post)"
)

// unsubscribeView is the confirmation and the result page.
type unsubscribeView struct {
	T        map[string]string // texts in the customer's language
	Token    string
	Question string
	Done     string // "" until unsubscribed
}

var unsubscribeTexts = map[string]map[string]string{
	"en": {
		"title":      "Unsubscribe",
		"question":   "Stop receiving %[1]s messages from %[2]s at %[3]s?",
		"button":     "Unsubscribe",
		"done":       "You are unsubscribed: %[2]s will send no more %[1]s messages to %[3]s.",
		"bad":        "This unsubscribe link is not valid. It may have been cut short: copy the whole link from the message, or reply to the message and ask us to stop.",
		"gone":       "We have no record of this subscription any more, so there is nothing to unsubscribe.",
		"email":      "email",
		"sms":        "text (SMS)",
		"reassure":   "Nothing changes until you press the button.",
		"mistake":    "Unsubscribed by mistake? Contact us and we will add you back.",
		"brandEmpty": "us",
	},
	"zh": {
		"title":      "退订",
		"question":   "不再接收%[2]s发送到 %[3]s 的%[1]s？",
		"button":     "退订",
		"done":       "退订成功：%[2]s 不会再向 %[3]s 发送%[1]s。",
		"bad":        "此退订链接无效，可能不完整。请从消息中复制完整链接，或回复消息要求退订。",
		"gone":       "我们已没有此订阅的记录，无需退订。",
		"email":      "电子邮件",
		"sms":        "短信",
		"reassure":   "点击按钮之前不会有任何更改。",
		"mistake":    "误操作？请联系我们重新订阅。",
		"brandEmpty": "我们",
	},
}

// language picks the page's language: the customer's locale if known,
// else the browser's first choice; Chinese or English.
func language(r *http.Request, cu *customer.Customer) string {
	l := r.Header.Get("Accept-Language")
	if cu != nil && cu.Locale != "" {
		l = cu.Locale
	}
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(l)), "zh") {
		return "zh"
	}
	return "en"
}

// mask shows enough of an address for its owner to recognize it, and not
// enough for whoever else holds the link to learn it.
func mask(channel, address string) string {
	if channel == channels.Email {
		local, domain, ok := strings.Cut(address, "@")
		if !ok || local == "" {
			return "•••"
		}
		r := []rune(local)
		return string(r[0]) + "•••@" + domain
	}
	if len(address) <= 4 {
		return "•••"
	}
	return "•••" + address[len(address)-4:]
}

// lookup checks an unsubscribe request's token and loads its customer. It
// answers the request itself (400 or 404) when it cannot go on.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) (*customer.Customer, string, bool) {
	id, ch, err := s.signer.VerifyUnsubscribe(r.PathValue("token"))
	if err == nil && ch != channels.Email && ch != channels.SMS {
		err = errors.New("unknown channel")
	}
	if err != nil {
		s.publicMessage(w, r, http.StatusBadRequest, nil, "bad")
		return nil, "", false
	}
	cu, err := s.store.CustomerByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.publicMessage(w, r, http.StatusNotFound, nil, "gone")
		return nil, "", false
	}
	if err != nil {
		s.log.Error("unsubscribe: load customer", "err", err)
		http.Error(w, "500 internal error: please try again later", http.StatusInternalServerError)
		return nil, "", false
	}
	return &cu, ch, true
}

func (s *Server) publicMessage(w http.ResponseWriter, r *http.Request, status int, cu *customer.Customer, key string) {
	lang := language(r, cu)
	t := unsubscribeTexts[lang]
	s.render(w, r, status, "message.html", page{Title: t["title"], Lang: lang, Error: t[key]})
}

func (s *Server) unsubscribeView(r *http.Request, cu *customer.Customer, ch string, done bool) (unsubscribeView, string) {
	lang := language(r, cu)
	t := unsubscribeTexts[lang]
	addr, _ := delivery.Contact(*cu, ch)
	brand := s.config().Settings.Brand
	if brand == "" {
		brand = t["brandEmpty"]
	}
	v := unsubscribeView{T: t, Token: r.PathValue("token"), Question: fmt.Sprintf(t["question"], t[ch], brand, mask(ch, addr))}
	if done {
		v.Done = fmt.Sprintf(t["done"], t[ch], brand, mask(ch, addr))
	}
	return v, lang
}

// unsubscribePage shows what the link would do, and a button that does it.
// It changes nothing: mail scanners fetch every link in a message. A
// customer without consent whose address is suppressed (or who has none)
// is told they are unsubscribed already.
func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	cu, ch, ok := s.lookup(w, r)
	if !ok {
		return
	}
	addr, granted := delivery.Contact(*cu, ch)
	done := !granted && addr == ""
	if !granted && addr != "" {
		suppressed, _, err := s.store.Suppressed(r.Context(), ch, addr)
		if err != nil {
			s.log.Error("unsubscribe: suppression lookup", "err", err)
			http.Error(w, "500 internal error: please try again later", http.StatusInternalServerError)
			return
		}
		done = suppressed
	}
	v, lang := s.unsubscribeView(r, cu, ch, done)
	s.render(w, r, http.StatusOK, "unsubscribe.html", page{Title: v.T["title"], Lang: lang, Body: v})
}

// unsubscribe unsubscribes: from the confirmation page's button, or from a
// mail provider's RFC 8058 one-click POST (body
// "List-Unsubscribe=One-Click"), which carries no cookie or CSRF token by
// design: the signed token in the path is the authorization.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	oneClick := r.PostFormValue("List-Unsubscribe") == "One-Click"
	cu, ch, ok := s.lookup(w, r)
	if !ok {
		return
	}
	reason := ReasonUnsubscribeLink
	if oneClick {
		reason = ReasonUnsubscribeOneClick
	}
	if _, err := s.store.Unsubscribe(r.Context(), cu.ID, ch, reason); err != nil {
		s.log.Error("unsubscribe", "customer_id", cu.ID, "channel", ch, "err", err)
		http.Error(w, "500 internal error: please try again later", http.StatusInternalServerError)
		return
	}
	s.log.Info("unsubscribed", "customer_id", cu.ID, "channel", ch, "one_click", oneClick)
	if oneClick {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("unsubscribed\n"))
		return
	}
	v, lang := s.unsubscribeView(r, cu, ch, true)
	s.render(w, r, http.StatusOK, "unsubscribe.html", page{Title: v.T["title"], Lang: lang, Body: v})
}

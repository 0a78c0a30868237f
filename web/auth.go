package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Role is what a dashboard user may do.
type Role string

// Roles. An admin may do everything a viewer may.
const (
	RoleViewer Role = "viewer" // sees everything, changes nothing
	RoleAdmin  Role = "admin"  // also sends, pauses and resumes runs and manages the queues
)

func (r Role) allows(need Role) bool { return r == RoleAdmin || r == need }

// User is a dashboard login.
type User struct {
	Name     string
	Role     Role
	Password string
}

// String never shows the password, so a logged User is safe.
func (u User) String() string { return u.Name + " (" + string(u.Role) + ")" }

// GoString never shows the password either.
func (u User) GoString() string { return "web.User{" + u.String() + "}" }

// MinPasswordLength is the shortest password UsersFromEnv accepts.
const MinPasswordLength = 12

// UsersFromEnv returns the dashboard users the environment defines:
// "admin" with TIDINGS_ADMIN_PASSWORD and "viewer" (read-only) with
// TIDINGS_VIEWER_PASSWORD. At least one must be set, and each set one must
// be at least MinPasswordLength characters.
func UsersFromEnv(getenv func(string) string) ([]User, error) {
	var users []User
	for _, u := range []struct {
		env  string
		name string
		role Role
	}{
		{"TIDINGS_ADMIN_PASSWORD", "admin", RoleAdmin},
		{"TIDINGS_VIEWER_PASSWORD", "viewer", RoleViewer},
	} {
		pw := getenv(u.env)
		if pw == "" {
			continue
		}
		if n := utf8.RuneCountInString(pw); n < MinPasswordLength {
			return nil, fmt.Errorf("%s is %d characters long; use at least %d", u.env, n, MinPasswordLength)
		}
		users = append(users, User{Name: u.name, Role: u.role, Password: pw})
	}
	if len(users) == 0 {
		return nil, errors.New("no dashboard user: set TIDINGS_ADMIN_PASSWORD (user admin, full access) and/or TIDINGS_VIEWER_PASSWORD (user viewer, read-only)")
	}
	return users, nil
}

// SessionKey derives the key that signs session cookies and CSRF tokens
// from TIDINGS_SECRET, so every replica of the web server accepts the
// others' sessions.
func SessionKey(secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("tidings web session key v1"))
	return m.Sum(nil)
}

// account is a User as the server checks it: hashes of equal length, so a
// comparison takes the same time whatever was typed.
type account struct {
	User
	nameHash, passwordHash [32]byte
}

// principal is who made a request.
type principal struct {
	Name string
	Role Role
	// cookie is the session cookie the request was authenticated by, or ""
	// for HTTP Basic.
	cookie string
}

// Admin reports whether the principal may change things.
func (p *principal) Admin() bool { return p.Role == RoleAdmin }

const (
	sessionCookie = "tidings_session"
	sessionTTL    = 12 * time.Hour
)

// mac is HMAC-SHA256 under the session key over length-prefixed parts.
func (s *Server) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.sessionKey)
	for _, p := range parts {
		fmt.Fprintf(m, "%d:%s|", len(p), p)
	}
	return m.Sum(nil)
}

// check returns the account whose name and password these are, or nil,
// unless the client has failed too often lately: then it returns a
// *tooManyFailures without checking. Each failure is logged, with the
// client's address and the user name if it is an account's, never the
// password.
func (s *Server) check(r *http.Request, via, name, password string) (*account, error) {
	nh, ph := sha256.Sum256([]byte(name)), sha256.Sum256([]byte(password))
	addr, key := clientOf(r, s.config().Settings.TrustedProxies)
	// A name that is no account's is neither logged nor kept: people type
	// passwords into it.
	user := "(other)"
	if s.account(name) != nil {
		user = name
	}
	var a *account
	v, failures, wait := s.logins.guard(key, user, func() bool {
		a = s.match(nh, ph)
		return a != nil
	})
	switch v {
	case passed:
		return a, nil
	case refused:
		s.log.Debug("dashboard login refused: too many failures", "remote", addr, "via", via, "retry_after", wait)
		return nil, &tooManyFailures{wait: wait}
	}
	s.log.Warn("dashboard login failed", "remote", addr, "user", user, "via", via, "failures", failures, "limit", loginFailures)
	return nil, errBadCredentials
}

// match returns the account with these hashes of name and password, or
// nil. It compares against every account, so its time does not tell which
// part was wrong.
func (s *Server) match(nh, ph [32]byte) *account {
	var found *account
	for i := range s.accounts {
		a := &s.accounts[i]
		if subtle.ConstantTimeCompare(nh[:], a.nameHash[:])&subtle.ConstantTimeCompare(ph[:], a.passwordHash[:]) == 1 {
			found = a
		}
	}
	return found
}

func (s *Server) account(name string) *account {
	for i := range s.accounts {
		if s.accounts[i].Name == name {
			return &s.accounts[i]
		}
	}
	return nil
}

// newSession returns a session cookie value for an account: the user, an
// expiry and a nonce, signed together with a hash of the user's password,
// so changing a password ends that user's sessions.
func (s *Server) newSession(a *account) string {
	nonce := make([]byte, 12)
	rand.Read(nonce)
	payload := a.Name + "|" + strconv.FormatInt(s.now().Add(sessionTTL).Unix(), 10) + "|" + hex.EncodeToString(nonce)
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." +
		base64.RawURLEncoding.EncodeToString(s.mac("session", payload, string(a.passwordHash[:])))
}

// session checks a session cookie value.
func (s *Server) session(value string) *principal {
	p64, m64, ok := strings.Cut(value, ".")
	if !ok {
		return nil
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	sig, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil {
		return nil
	}
	name, rest, _ := strings.Cut(string(payload), "|")
	exp, _, _ := strings.Cut(rest, "|")
	a := s.account(name)
	if a == nil || !hmac.Equal(sig, s.mac("session", string(payload), string(a.passwordHash[:]))) {
		return nil
	}
	if unix, err := strconv.ParseInt(exp, 10, 64); err != nil || s.now().Unix() >= unix {
		return nil
	}
	return &principal{Name: a.Name, Role: a.Role, cookie: value}
}

// errBadCredentials is a wrong user name or password.
var errBadCredentials = errors.New("wrong user name or password")

// tooManyFailures refuses a client that has given wrong credentials too
// often lately.
type tooManyFailures struct {
	wait time.Duration // until the client may try again
}

func (e *tooManyFailures) Error() string {
	return "too many failed logins; try again in " + e.wait.Round(time.Second).String()
}

// authenticate finds who made a request: HTTP Basic credentials (for
// scripts) if it has them, else the session cookie (for browsers). Wrong
// Basic credentials do not fall back on the cookie.
func (s *Server) authenticate(r *http.Request) (*principal, error) {
	if name, pw, ok := r.BasicAuth(); ok {
		a, err := s.check(r, "basic", name, pw)
		if a == nil {
			return nil, err
		}
		return &principal{Name: a.Name, Role: a.Role}, nil
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if p := s.session(c.Value); p != nil {
			return p, nil
		}
	}
	return nil, nil
}

// csrfToken is the token forms carry: bound to the session, so a token
// from one session is useless in another.
func (s *Server) csrfToken(p *principal) string {
	if p == nil {
		return ""
	}
	id := "basic:" + p.Name
	if p.cookie != "" {
		id = "session:" + p.cookie
	}
	return base64.RawURLEncoding.EncodeToString(s.mac("csrf", id)[:18])
}

// validCSRF checks an unsafe request's CSRF token. Browsers authenticate
// with the session cookie and must send the token their form carried.
// Requests with HTTP Basic credentials come from scripts (a browser that
// replays cached Basic credentials cross-site is stopped by the
// cross-origin check before this), so for them the token is optional.
func (s *Server) validCSRF(r *http.Request, p *principal) bool {
	got := r.PostFormValue("csrf")
	if got == "" {
		got = r.Header.Get("X-CSRF-Token")
	}
	if got == "" && p.cookie == "" {
		return true
	}
	return hmac.Equal([]byte(got), []byte(s.csrfToken(p)))
}

// secure reports whether the client reached us over HTTPS (directly or
// through a proxy that says so), so cookies can be marked Secure.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (s *Server) setSession(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure(r),
	})
}

// wantsHTML tells a browser's page load from a script or a fetch.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// unauthorized answers 401: a browser gets the login form; anything else
// a Basic challenge, except a browser's own fetch, which would otherwise
// pop up the browser's password dialog. A client over the failed-login
// limit gets 429 instead.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, err error) {
	if tm, ok := errors.AsType[*tooManyFailures](err); ok {
		s.throttled(w, r, tm.wait)
		return
	}
	if wantsHTML(r) {
		next := "/"
		if r.Method == http.MethodGet {
			next = r.URL.RequestURI()
		}
		msg := ""
		if err != nil {
			msg = "Wrong user name or password."
		}
		s.render(w, r, http.StatusUnauthorized, "login.html", page{Title: "Log in", Error: msg, Body: loginView{Next: next}})
		return
	}
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode == "" || mode == "navigate" {
		w.Header().Set("WWW-Authenticate", `Basic realm="Tidings", charset="UTF-8"`)
	}
	http.Error(w, "401 unauthorized: log in, or send HTTP Basic credentials", http.StatusUnauthorized)
}

// throttled answers 429 to a client over the failed-login limit,
// with Retry-After in seconds and, for a browser, a page saying when to
// come back. No Basic challenge: the client should wait, not retry.
func (s *Server) throttled(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
	minutes := int((wait + time.Minute - 1) / time.Minute)
	msg := "Too many failed logins from your address. Try again in " + strconv.Itoa(minutes) + " minutes."
	if minutes == 1 {
		msg = "Too many failed logins from your address. Try again in a minute."
	}
	if !wantsHTML(r) {
		http.Error(w, "429 too many requests: "+msg, http.StatusTooManyRequests)
		return
	}
	s.message(w, r, http.StatusTooManyRequests, page{Title: "Too many attempts", Error: msg})
}

type loginView struct{ Next string }

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if p, _ := s.authenticate(r); p != nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login.html", page{Title: "Log in", Body: loginView{Next: localPath(r.URL.Query().Get("next"))}})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	next := localPath(r.PostFormValue("next"))
	a, err := s.check(r, "form", r.PostFormValue("username"), r.PostFormValue("password"))
	if tm, ok := errors.AsType[*tooManyFailures](err); ok {
		s.throttled(w, r, tm.wait)
		return
	}
	if a == nil {
		s.render(w, r, http.StatusUnauthorized, "login.html", page{Title: "Log in", Error: "Wrong user name or password.", Body: loginView{Next: next}})
		return
	}
	s.setSession(w, r, s.newSession(a), int(sessionTTL/time.Second))
	addr, _ := clientOf(r, s.config().Settings.TrustedProxies)
	s.log.Info("dashboard login", "user", a.Name, "remote", addr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, _ *principal) {
	s.setSession(w, r, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// localPath keeps a redirect target on this site: a path, not "//host"
// or a URL.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}

// require wraps a dashboard handler: the request must come from a user
// with the role, and an unsafe one must pass the cross-origin check and
// carry its CSRF token.
func (s *Server) require(need Role, h func(http.ResponseWriter, *http.Request, *principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if p == nil {
			s.unauthorized(w, r, err)
			return
		}
		if !p.Role.allows(need) {
			s.forbidden(w, r, p, "Your account ("+p.Name+") is read-only.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := s.crossOrigin.Check(r); err != nil {
				s.forbidden(w, r, p, "Cross-origin request refused.")
				return
			}
			if !s.validCSRF(r, p) {
				s.forbidden(w, r, p, "The form has expired or did not come from this site: reload the page and try again.")
				return
			}
		}
		h(w, r, p)
	})
}

func (s *Server) forbidden(w http.ResponseWriter, r *http.Request, p *principal, msg string) {
	if !wantsHTML(r) {
		http.Error(w, "403 forbidden: "+msg, http.StatusForbidden)
		return
	}
	s.render(w, r, http.StatusForbidden, "message.html", page{Title: "Not allowed", User: p, CSRF: s.csrfToken(p), Error: msg})
}

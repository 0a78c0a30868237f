package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/scheduler"
	"github.com/tidings/tidings/store"
)

// horizon is how far ahead the dashboard looks for a campaign's next fire.
const horizon = 400 * 24 * time.Hour

const timeLayout = "2006-01-02 15:04 MST"

// campaignView is a campaign as the dashboard shows it.
type campaignView struct {
	Name, Description string
	Kind              string
	Schedule          string
	Zone              string
	Enabled           bool
	Channels          string
	Delivery          string
	Segment           string
	Template          string
	Priority          string
	Next              []fireView // the next few fires
	Last              *runView   // the latest run
	DefaultRun        string     // the occurrence "send now" offers: today's fire or the next
}

type fireView struct{ At, Occurrence string }

func (s *Server) campaignView(c *campaigns.Campaign, fires int) campaignView {
	v := campaignView{
		Name: c.Name, Description: c.Description, Kind: string(c.Kind), Zone: c.Schedule.TimeZone, Enabled: c.Enabled,
		Channels: strings.Join(c.Channels, ", "), Delivery: c.Delivery, Template: c.Template, Priority: c.Priority,
		DefaultRun: delivery.NextOccurrence(c, s.now()),
	}
	if c.Audience != nil {
		v.Segment = c.Audience.Name
	}
	if v.Priority == "" {
		v.Priority = "normal"
	}
	switch {
	case c.Kind == campaigns.KindProduct:
		v.Schedule = "once, at " + c.At.In(c.Schedule.Location).Format(timeLayout)
	case c.Schedule.Cron != "":
		v.Schedule = "cron " + c.Schedule.Cron
		if c.Kind == campaigns.KindHoliday {
			v.Schedule += ", on the campaign's dates"
		}
	}
	if !c.Enabled {
		return v
	}
	now := s.now()
	for _, f := range scheduler.Scheduled(c, now, now.Add(horizon), fires) {
		v.Next = append(v.Next, fireView{At: f.At.In(c.Schedule.Location).Format(timeLayout), Occurrence: f.Occurrence})
	}
	return v
}

// runView is a run with its counts.
type runView struct {
	Campaign, Run     string
	Status, Error     string
	Targeted          int64
	Started, Finished string
	Sent, Skipped     int64
	Failed, Deferred  int64
	Unknown, Sending  int64
	Reasons           []store.Count
	Carrier           []store.CarrierCount
	CanPause          bool
	CanResume         bool
}

func (s *Server) runView(r store.RunSummary, loc *time.Location) *runView {
	v := &runView{
		Campaign: r.Campaign, Run: r.Occurrence, Status: r.Status, Error: r.Error, Targeted: r.Targeted,
		Started: formatTime(r.StartedAt, loc), Finished: formatTime(r.FinishedAt, loc),
		Sent: r.Total(store.StatusSent), Skipped: r.Total(store.StatusSkipped), Failed: r.Total(store.StatusFailed),
		Deferred: r.Total(store.StatusDeferred), Unknown: r.Total(store.StatusUnknown), Sending: r.Total(store.StatusSending),
		CanPause:  r.Status == store.RunRunning || r.Status == store.RunSending,
		CanResume: r.Status == store.RunPaused,
	}
	for _, c := range r.Counts {
		if c.Reason != "" {
			v.Reasons = append(v.Reasons, c)
		}
	}
	return v
}

func formatTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format(timeLayout)
}

// zoneOf is the zone a campaign's times are shown in: its own, or UTC for
// a campaign no longer in the configuration.
func zoneOf(c *campaigns.Campaign) *time.Location {
	if c != nil && c.Schedule.Location != nil {
		return c.Schedule.Location
	}
	return time.UTC
}

func (s *Server) page(p *principal, title string, body any) page {
	return page{Title: title, User: p, CSRF: s.csrfToken(p), Body: body}
}

func (s *Server) serverError(w http.ResponseWriter, r *http.Request, p *principal, err error) {
	s.log.Error("web: request failed", "path", r.URL.Path, "err", err)
	pg := s.page(p, "Error", nil)
	pg.Error = "Something went wrong on our side; the error is in the server's log."
	s.message(w, r, http.StatusInternalServerError, pg)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, p *principal, what string) {
	pg := s.page(p, "Not found", nil)
	pg.Error = what
	s.message(w, r, http.StatusNotFound, pg)
}

// index lists every campaign with its next fire and its latest run.
func (s *Server) index(w http.ResponseWriter, r *http.Request, p *principal) {
	cfg := s.config()
	var views []campaignView
	for _, name := range cfg.CampaignNames() {
		c := cfg.Campaigns[name]
		v := s.campaignView(c, 1)
		runs, err := s.store.Runs(r.Context(), name, 1)
		if err != nil {
			s.serverError(w, r, p, err)
			return
		}
		if len(runs) > 0 {
			v.Last = s.runView(runs[0], zoneOf(c))
		}
		views = append(views, v)
	}
	s.render(w, r, http.StatusOK, "index.html", s.page(p, "Campaigns", views))
}

type campaignPage struct {
	Campaign   campaignView
	Known      bool // in the configuration
	Runs       []*runView
	Occurrence string // the send-now field's value
}

// campaign shows a campaign, its upcoming fires and its runs.
func (s *Server) campaign(w http.ResponseWriter, r *http.Request, p *principal) {
	s.renderCampaign(w, r, p, http.StatusOK, noticeText(r.URL.Query()), "", "")
}

func (s *Server) renderCampaign(w http.ResponseWriter, r *http.Request, p *principal, status int, notice, errMsg, occurrence string) {
	name := r.PathValue("name")
	c := s.config().Campaigns[name]
	runs, err := s.store.Runs(r.Context(), name, 50)
	if err != nil {
		s.serverError(w, r, p, err)
		return
	}
	if c == nil && len(runs) == 0 {
		s.notFound(w, r, p, fmt.Sprintf("There is no campaign named %q.", name))
		return
	}
	body := campaignPage{Known: c != nil, Campaign: campaignView{Name: name}}
	if c != nil {
		body.Campaign = s.campaignView(c, 5)
		body.Occurrence = body.Campaign.DefaultRun
	}
	if occurrence != "" {
		body.Occurrence = occurrence
	}
	for _, run := range runs {
		body.Runs = append(body.Runs, s.runView(run, zoneOf(c)))
	}
	pg := s.page(p, name, body)
	pg.Notice, pg.Error = notice, errMsg
	s.render(w, r, status, "campaign.html", pg)
}

// noticeText turns the notice code an action redirected with into a
// sentence; the codes are fixed, so the page never echoes arbitrary text
// as a message.
func noticeText(q url.Values) string {
	run, state := q.Get("run"), q.Get("state")
	if !delivery.WellFormedOccurrence(run) {
		return ""
	}
	switch q.Get("notice") {
	case "enqueued":
		return "Run " + run + " is enqueued; the workers start it within seconds."
	case "exists":
		if !slices.Contains(taskStates, state) {
			state = "enqueued or ran recently"
		}
		return "Run " + run + " is already " + state + ": nothing to do."
	case "archived":
		return "Run " + run + " was given up (archived) after its retries. Fix the cause, then `tidings resume` this campaign's run " + run + " to run it again; customers who got it will not get it twice."
	case "paused":
		return "Run " + run + " is paused: its batches wait until it is resumed."
	case "resumed":
		return "Run " + run + " is resumed: its batches go on within a minute."
	case "not-running":
		return "Run " + run + " is not running, so there is nothing to pause."
	case "not-paused":
		return "Run " + run + " is not paused."
	}
	return ""
}

// taskStates are the Asynq task states a notice may name.
var taskStates = []string{"active", "pending", "scheduled", "retry", "archived", "completed", "aggregating"}

// formOccurrence is the occurrence a send or dry-run form names (by
// default the one the campaign page offers), checked as `tidings send`
// checks it. When it may not be sent, the campaign page is shown again with
// the reason and ok is false.
func (s *Server) formOccurrence(w http.ResponseWriter, r *http.Request, p *principal, c *campaigns.Campaign) (occ string, ok bool) {
	now := s.now()
	occ = strings.TrimSpace(r.PostFormValue("occurrence"))
	if occ == "" {
		occ = delivery.NextOccurrence(c, now)
	}
	err := delivery.CheckOccurrence(r.Context(), c, occ, now, s.store.RunExists, false)
	var oe *delivery.OccurrenceError
	switch {
	case errors.As(err, &oe):
		msg := "Occurrence " + occ + " " + oe.Reason + "."
		if f := oe.Fires(); f != "" {
			msg += " " + strings.ToUpper(f[:1]) + f[1:] + "."
		}
		if !oe.Malformed {
			// Off-schedule sends are deliberate acts, kept out of a
			// two-click form: the command line's --force logs who forced
			// what.
			msg += " To send an occurrence off the schedule, use `tidings send " + c.Name + " --occurrence " + occ + " --force`."
		}
		s.renderCampaign(w, r, p, http.StatusBadRequest, "", msg, occ)
		return "", false
	case err != nil:
		s.serverError(w, r, p, err)
		return "", false
	}
	return occ, true
}

// confirmPage asks to confirm a send: the occurrence, when it is due and
// whom it would reach.
type confirmPage struct {
	Campaign   campaignView
	Occurrence string
	Due        string // when the schedule fires it, "" for a run off it
	Early      bool   // due later than now: sending now sends it early
	Audience   int64
	Reach      []reach
	Earlier    bool // it has a run already: this enqueues it again
}

// sendNow enqueues an occurrence, as `tidings send` does, after a
// confirmation: the first post shows what would be sent to how many, and
// only a post that confirms that same occurrence enqueues it.
func (s *Server) sendNow(w http.ResponseWriter, r *http.Request, p *principal) {
	name := r.PathValue("name")
	c := s.config().Campaigns[name]
	if c == nil {
		s.notFound(w, r, p, fmt.Sprintf("There is no campaign named %q in the configuration.", name))
		return
	}
	occ, ok := s.formOccurrence(w, r, p, c)
	if !ok {
		return
	}
	if r.PostFormValue("confirm") != occ {
		s.confirmSend(w, r, p, c, occ)
		return
	}
	ok, err := delivery.EnqueueRun(r.Context(), s.client, c, occ)
	if err != nil {
		s.serverError(w, r, p, err)
		return
	}
	q := url.Values{"run": {occ}}
	if ok {
		s.log.Info("dashboard: run enqueued", "user", p.Name, "campaign", name, "run", occ)
		q.Set("notice", "enqueued")
	} else {
		info, err := s.inspector.GetTaskInfo(delivery.QueueFor(c.Priority), delivery.RunTaskID(name, occ))
		switch {
		case err == nil && info.State == asynq.TaskStateArchived:
			q.Set("notice", "archived")
		case err == nil:
			q.Set("notice", "exists")
			q.Set("state", info.State.String())
		default:
			q.Set("notice", "exists")
		}
	}
	http.Redirect(w, r, "/campaigns/"+url.PathEscape(name)+"?"+q.Encode(), http.StatusSeeOther)
}

// confirmSend shows the confirmation of a send.
func (s *Server) confirmSend(w http.ResponseWriter, r *http.Request, p *principal, c *campaigns.Campaign, occ string) {
	ctx, now := r.Context(), s.now()
	body := confirmPage{Campaign: s.campaignView(c, 1), Occurrence: occ}
	for _, f := range scheduler.Scheduled(c, now.Add(-delivery.RecentFires), now.Add(delivery.UpcomingFires), 0) {
		if f.Occurrence == occ {
			body.Due, body.Early = f.At.In(c.Schedule.Location).Format(timeLayout), f.At.After(now)
			break
		}
	}
	if _, err := s.store.GetRun(ctx, c.Name, occ); err == nil {
		body.Earlier = true
	} else if !errors.Is(err, store.ErrNotFound) {
		s.serverError(w, r, p, err)
		return
	}
	var err error
	if body.Audience, body.Reach, err = s.count(ctx, c.ForRun(occ), now); err != nil {
		s.serverError(w, r, p, err)
		return
	}
	s.render(w, r, http.StatusOK, "confirm.html", s.page(p, "Send "+c.Name+" "+occ+"?", body))
}

// count evaluates a run's audience now: how many it selects and how many
// each channel reaches.
func (s *Server) count(ctx context.Context, c *campaigns.Campaign, now time.Time) (int64, []reach, error) {
	opts := store.AudienceOptions{Now: now, DefaultZone: c.Schedule.Location}
	aud, err := s.store.Compile(ctx, c.Condition(), opts)
	if err != nil {
		return 0, nil, err
	}
	n, err := s.store.CountAudience(ctx, aud)
	if err != nil {
		return 0, nil, err
	}
	var rs []reach
	for _, ch := range c.Channels {
		k, err := s.store.CountReachable(ctx, c.Condition(), ch, opts)
		if err != nil {
			return 0, nil, err
		}
		rs = append(rs, reach{Channel: ch, N: k})
	}
	return n, rs, nil
}

// dryRunPage is what a dry run found: the audience, who each channel
// reaches, and the first customers' messages.
type dryRunPage struct {
	Campaign   campaignView
	Occurrence string
	FollowUp   bool // the audience is a follow-up's
	Audience   int64
	Customers  int64
	Reach      []reach
	Samples    []sample
	Took       string
}

type reach struct {
	Channel string
	N       int64
}

type sample struct {
	Customer string
	Channel  string
	Address  string
	Subject  string
	Body     string
	HTMLSize int
	Error    string
}

// dryRun evaluates the audience of the occurrence the form names (a
// follow-up's is the launch's non-responders) now and renders the first
// customers' messages, as `tidings send --dry-run` does. Nothing is
// enqueued or sent.
func (s *Server) dryRun(w http.ResponseWriter, r *http.Request, p *principal) {
	name := r.PathValue("name")
	cfg := s.config()
	c := cfg.Campaigns[name]
	if c == nil {
		s.notFound(w, r, p, fmt.Sprintf("There is no campaign named %q in the configuration.", name))
		return
	}
	occ, ok := s.formOccurrence(w, r, p, c)
	if !ok {
		return
	}
	c = c.ForRun(occ)
	ctx := r.Context()
	start, now := time.Now(), s.now()
	body := dryRunPage{Campaign: s.campaignView(c, 1), Occurrence: occ}
	if named, _ := c.IsFollowUpRun(occ); named {
		body.FollowUp = true
	}
	var err error
	if body.Audience, body.Reach, err = s.count(ctx, c, now); err != nil {
		s.serverError(w, r, p, err)
		return
	}
	if body.Customers, err = s.store.CountCustomers(ctx); err != nil {
		s.serverError(w, r, p, err)
		return
	}
	if s.templates != nil {
		// The samples are of customers who would get a message, on the
		// channel they would get it on.
		receivable, err := s.store.Compile(ctx, delivery.ReceivableAudience(c), store.AudienceOptions{Now: now, DefaultZone: c.Schedule.Location})
		if err != nil {
			s.serverError(w, r, p, err)
			return
		}
		cs, err := s.store.AudiencePage(ctx, receivable, 0, 3)
		if err != nil {
			s.serverError(w, r, p, err)
			return
		}
		tmpl := s.templates()
		pl := &delivery.Pipeline{Config: s.config, Signer: s.signer}
		for _, cu := range cs {
			for _, ch := range delivery.ChannelsFor(c, cu) {
				addr, _ := delivery.Contact(cu, ch)
				sm := sample{Customer: cu.ExternalID + " " + cu.Name, Channel: ch, Address: addr}
				data := pl.TemplateData(c, delivery.LedgerOccurrence(c, body.Occurrence), cu, ch, now)
				msg, err := pl.Render(tmpl, c, ch, addr, data)
				switch {
				case err != nil:
					sm.Error = err.Error()
				case ch == channels.Email:
					sm.Subject, sm.Body, sm.HTMLSize = msg.Subject, msg.Text, len(msg.HTML)
				default:
					sm.Body = msg.Body
				}
				body.Samples = append(body.Samples, sm)
			}
		}
	}
	body.Took = time.Since(start).Round(time.Millisecond).String()
	s.log.Info("dashboard: dry run", "user", p.Name, "campaign", name, "audience", body.Audience)
	s.render(w, r, http.StatusOK, "dryrun.html", s.page(p, "Dry run of "+name, body))
}

// pageSize is how many recipients a run page lists.
const pageSize = 100

type runPage struct {
	Run        *runView
	Recipients []recipientView
	Status     string   // the status filter
	Statuses   []string // the filter's choices
	Next       string   // the next page's link, "" on the last
	First      string   // the first page's link, "" on it
}

type recipientView struct {
	store.Recipient
	At, CarrierAt string
}

// run shows a run's counts and a page of its recipients.
func (s *Server) run(w http.ResponseWriter, r *http.Request, p *principal) {
	name, run := r.PathValue("name"), r.PathValue("run")
	ctx := r.Context()
	sum, err := s.store.RunSummaryOf(ctx, name, run)
	if errors.Is(err, store.ErrNotFound) {
		s.notFound(w, r, p, fmt.Sprintf("Campaign %q has no run %q.", name, run))
		return
	}
	if err != nil {
		s.serverError(w, r, p, err)
		return
	}
	c := s.config().Campaigns[name]
	loc := zoneOf(c)
	body := runPage{Run: s.runView(sum, loc),
		Statuses: []string{"sent", "skipped", "failed", "deferred", "unknown", "sending"}}
	if body.Run.Carrier, err = s.store.RunCarrierCounts(ctx, name, run); err != nil {
		s.serverError(w, r, p, err)
		return
	}
	q := r.URL.Query()
	after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
	status := q.Get("status")
	if status != "" && !slices.Contains(body.Statuses, status) {
		status = ""
	}
	body.Status = status
	rows, err := s.store.RunRecipients(ctx, name, run, store.RecipientQuery{Status: store.Status(status), After: after, Limit: pageSize})
	if err != nil {
		s.serverError(w, r, p, err)
		return
	}
	base := "/campaigns/" + url.PathEscape(name) + "/runs/" + url.PathEscape(run)
	link := func(after int64) string {
		v := url.Values{}
		if status != "" {
			v.Set("status", status)
		}
		if after > 0 {
			v.Set("after", strconv.FormatInt(after, 10))
		}
		if len(v) == 0 {
			return base
		}
		return base + "?" + v.Encode()
	}
	for _, row := range rows {
		body.Recipients = append(body.Recipients, recipientView{Recipient: row, At: formatTime(row.At, loc), CarrierAt: formatTime(row.CarrierAt, loc)})
	}
	if len(rows) == pageSize {
		body.Next = link(rows[len(rows)-1].ID)
	}
	if after > 0 {
		body.First = link(0)
	}
	pg := s.page(p, name+" "+run, body)
	pg.Notice = noticeText(q)
	s.render(w, r, http.StatusOK, "run.html", pg)
}

// pause pauses a run from the dashboard: its batches wait, as after an
// authentication failure, until it is resumed.
func (s *Server) pause(w http.ResponseWriter, r *http.Request, p *principal) {
	s.runAction(w, r, p, "paused", "not-running", func(ctx context.Context, name, run string) (bool, error) {
		return s.store.PauseRun(ctx, name, run, "paused from the dashboard by "+p.Name)
	})
}

// resume resumes a paused run, as `tidings resume` does.
func (s *Server) resume(w http.ResponseWriter, r *http.Request, p *principal) {
	s.runAction(w, r, p, "resumed", "not-paused", s.store.ResumeRun)
}

// runAction changes a run's status by act and goes back to the run's page
// with the notice done, or not when act changed nothing.
func (s *Server) runAction(w http.ResponseWriter, r *http.Request, p *principal, done, not string,
	act func(ctx context.Context, name, run string) (bool, error)) {
	name, run := r.PathValue("name"), r.PathValue("run")
	ok, err := act(r.Context(), name, run)
	if err != nil {
		s.serverError(w, r, p, err)
		return
	}
	notice := not
	if ok {
		notice = done
		s.log.Info("dashboard: run "+done, "user", p.Name, "campaign", name, "run", run)
	}
	s.backToRun(w, r, name, run, notice)
}

func (s *Server) backToRun(w http.ResponseWriter, r *http.Request, name, run, notice string) {
	q := url.Values{"notice": {notice}, "run": {run}}
	http.Redirect(w, r, "/campaigns/"+url.PathEscape(name)+"/runs/"+url.PathEscape(run)+"?"+q.Encode(), http.StatusSeeOther)
}

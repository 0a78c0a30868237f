package reload_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/internal/reload"
	"github.com/tidings/tidings/internal/syncbuf"
	"github.com/tidings/tidings/templates"
)

type testBundle struct {
	configs, templates string
	holder             *reload.Holder
	log                *syncbuf.Buffer
	sighup             chan os.Signal
}

// setup copies testdata to a temporary folder, loads it into a Holder that
// polls every interval and starts watching it until the test ends.
func setup(t *testing.T, interval time.Duration) *testBundle {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata")); err != nil {
		t.Fatal(err)
	}
	tb := &testBundle{
		configs: filepath.Join(dir, "configs"), templates: filepath.Join(dir, "templates"),
		log: &syncbuf.Buffer{}, sighup: make(chan os.Signal, 1),
	}
	tb.holder = reload.New(func() (*campaigns.Config, *templates.Set, error) {
		cfg, err := campaigns.Load(tb.configs, tb.templates)
		if err != nil {
			return nil, nil, err
		}
		tmpl, err := templates.Load(tb.templates)
		if err != nil {
			return nil, nil, err
		}
		return cfg, tmpl, nil
	}, slog.New(slog.NewTextHandler(tb.log, nil)), tb.configs, tb.templates)
	tb.holder.Interval = interval
	if err := tb.holder.Reload(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		tb.holder.Watch(ctx, tb.sighup)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return tb
}

func (tb *testBundle) write(t *testing.T, file, content string) {
	t.Helper()
	dir := tb.configs
	if strings.HasPrefix(file, "templates/") {
		dir, file = tb.templates, strings.TrimPrefix(file, "templates/")
	}
	path := filepath.Join(dir, file)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitLog waits until the log holds want.
func (tb *testBundle) waitLog(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(tb.log.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("the log never said %q:\n%s", want, tb.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const notice = `name: notice
kind: product
at: "2027-03-01 10:00"
audience:
  segment: all
channels: [email]
template: notice
`

func TestValidEditTakesEffect(t *testing.T) {
	t.Parallel()
	tb := setup(t, 20*time.Millisecond)
	before := tb.holder.Config()
	tb.write(t, "campaigns/launch.yaml", strings.ReplaceAll(notice, "notice", "launch"))
	tb.write(t, "templates/launch/email.subject.txt", "Launch\n")
	tb.write(t, "templates/launch/email.txt", "It is here, {{.Customer.Name}}\n")
	tb.waitLog(t, "configuration reloaded")
	if got := tb.holder.Config(); got == before || got.Campaigns["launch"] == nil {
		t.Fatalf("campaigns after the reload: %v", got.CampaignNames())
	}
	if !tb.holder.Templates().Has("launch") {
		t.Error("the templates were not reloaded with the configuration")
	}
	if want := "trigger=files campaigns=2 segments=1 templates=2"; !strings.Contains(tb.log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, tb.log.String())
	}
}

// An edit with a mistake is rejected with its position in the log and the
// previous configuration stays; the fix afterwards takes effect.
func TestInvalidEditIsRejected(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file, content, want string
	}{
		{"unknown key", "campaigns/notice.yaml", notice + "colour: red\n",
			`campaigns/notice.yaml:8:1: unknown key \"colour\" in campaign`},
		{"broken YAML", "campaigns/notice.yaml", strings.Replace(notice, "[email]", "[email", 1),
			`campaigns/notice.yaml:7:1: invalid YAML`},
		{"unknown segment", "campaigns/notice.yaml", strings.Replace(notice, "segment: all", "segment: everyone", 1),
			`campaigns/notice.yaml:5:12: audience.segment: unknown segment \"everyone\"`},
		{"template syntax", "templates/notice/email.txt", "Hello {{.Customer.Name\n",
			`notice/email.txt:1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, 20*time.Millisecond)
			before := tb.holder.Config()
			tb.write(t, tc.file, tc.content)
			tb.waitLog(t, "configuration error")
			log := tb.log.String()
			if !strings.Contains(log, "configuration rejected; keeping the last good one") || !strings.Contains(log, tc.want) {
				t.Errorf("log lacks the rejection or %q:\n%s", tc.want, log)
			}
			if tb.holder.Config() != before {
				t.Fatal("a rejected configuration replaced the last good one")
			}
			// The fix: a priority, so that the new configuration shows.
			tb.write(t, "templates/notice/email.txt", "Hello {{.Customer.Name}}\n")
			tb.write(t, "campaigns/notice.yaml", notice+"priority: high\n")
			tb.waitLog(t, "configuration reloaded")
			if c := tb.holder.Config().Campaigns["notice"]; c == nil || c.Priority != "high" {
				t.Errorf("the fix did not take effect: %+v", c)
			}
		})
	}
}

func TestSIGHUPReloads(t *testing.T) {
	t.Parallel()
	tb := setup(t, time.Hour) // no polling: only the signal reloads
	tb.write(t, "campaigns/notice.yaml", notice+"priority: low\n")
	tb.sighup <- syscall.SIGHUP
	tb.waitLog(t, `msg="configuration reloaded" trigger=sighup`)
	if p := tb.holder.Config().Campaigns["notice"].Priority; p != "low" {
		t.Errorf("priority %q after SIGHUP, want low", p)
	}

	tb.write(t, "campaigns/notice.yaml", notice+"priority: urgent\n")
	tb.sighup <- syscall.SIGHUP
	tb.waitLog(t, `msg="configuration rejected; keeping the last good one" trigger=sighup errors=1`)
	tb.waitLog(t, "campaigns/notice.yaml:8:11: ")
	if p := tb.holder.Config().Campaigns["notice"].Priority; p != "low" {
		t.Errorf("priority %q after a rejected SIGHUP, want the last good low", p)
	}
}

// Saving a file unchanged, or an editor's swap file, is no change.
func TestSameContentIsNoChange(t *testing.T) {
	t.Parallel()
	tb := setup(t, 10*time.Millisecond)
	before := tb.holder.Config()
	tb.write(t, "campaigns/notice.yaml", notice)
	tb.write(t, "campaigns/.notice.yaml.swp", "half an edit")
	time.Sleep(200 * time.Millisecond)
	if log := tb.log.String(); log != "" || tb.holder.Config() != before {
		t.Errorf("reloaded without a change:\n%s", log)
	}
}

// A new folder is watched as soon as it appears.
func TestNewFolderIsWatched(t *testing.T) {
	t.Parallel()
	tb := setup(t, 20*time.Millisecond)
	tb.write(t, "templates/later/email.subject.txt", "Later\n")
	tb.write(t, "templates/later/email.txt", "Later\n")
	tb.waitLog(t, "configuration reloaded")
	tb.write(t, "templates/later/email.txt", "Later {{.Nope\n")
	tb.waitLog(t, "later/email.txt:1")
}

// The first load is the caller's to report: it returns the error and logs
// nothing, and the Holder holds nothing.
func TestFirstLoadFails(t *testing.T) {
	t.Parallel()
	var log syncbuf.Buffer
	h := reload.New(func() (*campaigns.Config, *templates.Set, error) {
		cfg, err := campaigns.Load(filepath.Join(t.TempDir(), "missing"), "templates")
		return cfg, nil, err
	}, slog.New(slog.NewTextHandler(&log, nil)))
	if err := h.Reload(); err == nil || !strings.Contains(err.Error(), "configuration folder not found") {
		t.Errorf("err = %v", err)
	}
	if h.Config() != nil || h.Templates() != nil || log.String() != "" {
		t.Errorf("after a failed first load: %v %v %q", h.Config(), h.Templates(), log.String())
	}
}

package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tidings/tidings/store"
)

// chromium finds the browser: Debian's chromium package (CI installs it),
// or another Chrome. Without one the test is skipped on a developer's
// machine and fails under CI.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found; `.ci/run` installs Debian's chromium package")
	}
	t.Skip("chromium not found (apt-get install chromium)")
	return ""
}

// artifacts returns the folder screenshots go to: $TIDINGS_ARTIFACTS, or
// artifacts/ at the repository root.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TIDINGS_ARTIFACTS")
	if dir == "" {
		root, err := filepath.Abs("..")
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBrowser drives the dashboard in headless Chromium after a real run:
// log in, see the campaign with its counts, open the run's recipients,
// open asynqmon and see the queues. Screenshots are saved as artifacts.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	b := setup(t, store.SQLite)
	b.addCustomers(t, 12)
	b.startWorker(t)
	sum := b.runCampaign(t, "greeting", "2027-02-06")
	dir := artifacts(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.WindowSize(1280, 900),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to sandbox as root
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	defer cancel()
	// The whole browser session; the timeout ends the browser too.
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			path := filepath.Join(dir, "web-"+name+".png")
			if err := os.WriteFile(path, png, 0o644); err != nil {
				return err
			}
			t.Logf("screenshot: %s", path)
			return nil
		})
	}
	do := func(step string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			chromedp.Do(ctx, shot("failed-"+step))
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	do("login page",
		chromedp.Navigate(b.http.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=username]`)),
		shot("1-login"),
	)
	if login := text("main"); !strings.Contains(login, "Log in") {
		t.Errorf("login page: %q", login)
	}
	do("log in",
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), adminPassword),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/campaigns/greeting"]`)),
		shot("2-campaigns"),
	)
	sent := fmt.Sprint(sum.Total(store.StatusSent))
	if index := text("main table"); !strings.Contains(index, "greeting") || !strings.Contains(index, "2027-02-06") ||
		!strings.Contains(index, "done") || !strings.Contains(index, "12\t"+sent+"\t0\t0") {
		t.Errorf("campaigns page: %q", index)
	}

	do("recipients",
		chromedp.Click(chromedp.CSS(`a[href="/campaigns/greeting"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/campaigns/greeting/runs/2027-02-06"]`)),
		shot("3-campaign"),
		chromedp.Click(chromedp.CSS(`a[href="/campaigns/greeting/runs/2027-02-06"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#recipients`)),
		shot("4-recipients"),
	)
	recipients := text("#recipients")
	for _, want := range []string{"C001", "Customer 1", "+8613800000001", "sms", "sent", "C004", "c004@example.com", "email"} {
		if !strings.Contains(recipients, want) {
			t.Errorf("recipients lack %q: %q", want, recipients)
		}
	}
	if counts := text("table.counts"); !strings.Contains(counts, "sent\t"+sent) {
		t.Errorf("counts: %q", counts)
	}

	// asynqmon renders the queues with its own JavaScript, from its API.
	do("queues",
		chromedp.Navigate(b.http.URL+"/queues/"),
		chromedp.WaitVisible(chromedp.Search(`//*[text()="tidings:normal"]`)),
		shot("5-queues"),
	)
	if queues := text("body"); !strings.Contains(queues, "tidings:normal") {
		t.Errorf("asynqmon: %q", queues)
	}
}

package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tidings/tidings/channels/outbox"
)

// The quick start: `tidings demo` on a clean folder shows messages in the
// outbox within 30 seconds, prints the dashboard's address, serves it, and
// stops cleanly on Ctrl-C.
func TestQuickStartDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	repo, _ := filepath.Abs("../..")
	dir := t.TempDir()
	cmd := exec.Command(binary(t), "--config", filepath.Join(repo, "configs"), "--templates", filepath.Join(repo, "templates"),
		"demo", "--listen", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TIDINGS_ADMIN_PASSWORD=quick-start-password", "TIDINGS_DATABASE_URL=", "TIDINGS_REDIS_URL=")
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out strings.Builder
	var dashboard string
	deadline := time.After(30 * time.Second)
	for dashboard == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo ended early:\n%s\n%s", out.String(), stderr.String())
			}
			out.WriteString(l + "\n")
			if rest, ok := strings.CutPrefix(l, "dashboard: "); ok {
				dashboard, _, _ = strings.Cut(rest, " ")
			}
		case <-deadline:
			t.Fatalf("no dashboard line within 30 s:\n%s\n%s", out.String(), stderr.String())
		}
	}
	sent, err := outbox.ReadSentLog(filepath.Join(dir, ".tidings", "outbox"))
	if err != nil || len(sent) == 0 {
		t.Fatalf("no messages in the outbox after %s: %v\n%s", time.Since(start), err, out.String())
	}
	t.Logf("%d messages in the outbox %s after the start; dashboard at %s", len(sent), time.Since(start).Round(time.Millisecond), dashboard)
	if !strings.Contains(out.String(), "password quick-start-password") {
		t.Errorf("the demo does not print the dashboard's credentials:\n%s", out.String())
	}

	req, _ := http.NewRequest("GET", dashboard, nil)
	req.SetBasicAuth("admin", "quick-start-password")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "spring-festival") {
		t.Errorf("dashboard: %d\n%.500s", resp.StatusCode, page)
	}

	// Ctrl-C.
	cmd.Process.Signal(syscall.SIGINT)
	go func() {
		for l := range lines {
			out.WriteString(l + "\n")
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("demo after Ctrl-C: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("demo still running 30 s after Ctrl-C:\n%s", stderr.String())
	}
}

// Ctrl-C while the demo's first runs are still sending stops it cleanly
// too, and the next `tidings demo` carries the runs on at once: nobody gets
// a message twice.
func TestQuickStartDemoInterruptedEarly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	repo, _ := filepath.Abs("../..")
	dir := t.TempDir()
	demo := func(args ...string) *exec.Cmd {
		cmd := exec.Command(binary(t), append([]string{"--config", filepath.Join(repo, "configs"), "--templates", filepath.Join(repo, "templates"),
			"demo", "--listen", "127.0.0.1:0"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TIDINGS_ADMIN_PASSWORD=quick-start-password", "TIDINGS_DATABASE_URL=", "TIDINGS_REDIS_URL=")
		return cmd
	}
	outboxDir := filepath.Join(dir, ".tidings", "outbox")

	first := demo()
	var out strings.Builder
	first.Stdout, first.Stderr = &out, &out
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if sent, _ := outbox.ReadSentLog(outboxDir); len(sent) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message within 30 s:\n%s", out.String())
		}
	}
	first.Process.Signal(syscall.SIGINT)
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("demo interrupted early: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("demo still running 30 s after Ctrl-C:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "stopping before the first runs finished") {
		t.Errorf("Ctrl-C came after the first runs finished; the test did not test an early stop:\n%s", out.String())
	}
	before, _ := outbox.ReadSentLog(outboxDir)

	start := time.Now()
	again, err := demo("--once").CombinedOutput()
	if err != nil {
		t.Fatalf("demo --once after the interruption: %v\n%s", err, again)
	}
	// Batches the first process never finished are enqueued again with the
	// runs, not after the reconciler's two minutes.
	if took := time.Since(start); took > time.Minute {
		t.Errorf("the second demo took %s to finish the runs", took.Round(time.Second))
	}
	after, err := outbox.ReadSentLog(outboxDir)
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range after {
		if n != 1 {
			t.Errorf("%s sent %d times", id, n)
		}
	}
	if len(after) <= len(before) {
		t.Errorf("%d messages after the second demo, %d before: the runs were not carried on\n%s", len(after), len(before), again)
	}
	t.Logf("%d messages before Ctrl-C, %d after the second demo (%s)", len(before), len(after), time.Since(start).Round(time.Millisecond))
}

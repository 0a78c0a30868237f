package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/channels/outbox"
	"github.com/tidings/tidings/internal/redistest"
	"github.com/tidings/tidings/internal/syncbuf"
	"github.com/tidings/tidings/store/storetest"
)

// copyConfig copies configs/ and the template folders of templates/ into
// dir, for a process to reload from.
func copyConfig(t *testing.T, dir string) (configDir, templatesDir string) {
	t.Helper()
	configDir, templatesDir = filepath.Join(dir, "configs"), filepath.Join(dir, "templates")
	if err := os.CopyFS(configDir, os.DirFS("../../configs")); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("../../templates")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && e.Name() != "testdata" {
			if err := os.CopyFS(filepath.Join(templatesDir, e.Name()), os.DirFS(filepath.Join("../../templates", e.Name()))); err != nil {
				t.Fatal(err)
			}
		}
	}
	return configDir, templatesDir
}

// waitLog waits until a process's log holds want.
func waitLog(t *testing.T, log *syncbuf.Buffer, exited <-chan error, want string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(log.String(), want); {
		select {
		case err := <-exited:
			t.Fatalf("the process exited (%v) before it logged %q:\n%s", err, want, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log never said %q:\n%s", want, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A scheduler process told to reload a campaign file with a mistake logs
// the mistake with its file and line, and keeps running on the last good
// configuration; the fix is then reloaded.
func TestSchedulerReloadRejectsABrokenCampaign(t *testing.T) {
	dir := t.TempDir()
	configDir, templatesDir := copyConfig(t, dir)
	cmd := exec.Command(binary(t), "--config", configDir, "--templates", templatesDir, "scheduler")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TIDINGS_DATABASE_URL="+storetest.SQLiteURL(t),
		"TIDINGS_REDIS_URL="+redistest.Start(t).URL(), "TIDINGS_SECRET=test")
	var log syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	waitLog(t, &log, exited, "scheduler started")

	file := filepath.Join(configDir, "campaigns", "new-product.yaml")
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append(bytes.Clone(good), "colour: red\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, &log, exited, `msg="configuration rejected; keeping the last good one"`)
	waitLog(t, &log, exited, fmt.Sprintf(`new-product.yaml:%d:1: unknown key \"colour\" in campaign`, bytes.Count(good, []byte("\n"))+1))

	if err := os.WriteFile(file, good, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, &log, exited, `msg="configuration reloaded" trigger=sighup campaigns=3`)

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Errorf("scheduler exited with %v:\n%s", err, log.String())
		}
	case <-time.After(5 * time.Second):
		t.Errorf("scheduler still running 5 s after SIGTERM:\n%s", log.String())
	}
}

// A worker's reload is rejected when a campaign needs a sender the worker
// started without, and warns about the settings that need a restart.
func TestReloadChecksWhatTheWorkerStartedWith(t *testing.T) {
	cfg, err := campaigns.Load("testdata/pipeline/configs", "testdata/pipeline/templates")
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	o := outbox.New(t.TempDir(), mail.Address{Address: "news@tea.example"}, 0)
	w := &startedWorker{settings: cfg.Settings, senders: map[string]channels.Sender{channels.Email: o, channels.SMS: o}}

	if err := w.check(logger, cfg); err != nil || log.Len() != 0 {
		t.Fatalf("the configuration the worker started with: %v %s", err, log.String())
	}
	changed := *cfg
	changed.Settings.Delivery.Outbox = "elsewhere"
	changed.Settings.Delivery.BatchSize = 7 // read for every batch: no restart
	if err := w.check(logger, &changed); err != nil {
		t.Fatal(err)
	}
	if want := `settings=delivery.outbox`; !strings.Contains(log.String(), want) || strings.Contains(log.String(), "batch_size") {
		t.Errorf("log should name only delivery.outbox:\n%s", log.String())
	}

	w.senders = map[string]channels.Sender{channels.Email: o}
	err = w.check(logger, cfg)
	if want := "notice.yaml: campaign notice sends sms, but this worker started without a provider for it"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
	if err := (*startedWorker)(nil).check(logger, cfg); err != nil {
		t.Errorf("the first load, before the worker is built: %v", err)
	}
}

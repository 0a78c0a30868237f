package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tidings/tidings/channels/outbox"
	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/internal/redistest"
	"github.com/tidings/tidings/internal/syncbuf"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the tidings binary once per test process.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tidings-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tidings")
		// As the Dockerfile and `make build-static` build it, so that
		// all three share the build cache (`make test` runs go test
		// with the same CGO_ENABLED=0 and -trimpath).
		build := exec.Command("go", "build", "-trimpath", "-o", binPath, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := build.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// cluster is a database, a Redis and a working folder shared by worker
// processes, with the pipeline test configuration.
type cluster struct {
	dbURL, redisURL, dir, config, templates string
}

func newCluster(t *testing.T, customers int) *cluster {
	t.Helper()
	abs, _ := filepath.Abs("testdata/pipeline")
	return newClusterWith(t, customers, filepath.Join(abs, "configs"), filepath.Join(abs, "templates"))
}

func newClusterWith(t *testing.T, customers int, configDir, templatesDir string) *cluster {
	t.Helper()
	c := &cluster{
		dbURL: storetest.NewPostgresURL(t), redisURL: redistest.Start(t).URL(), dir: t.TempDir(),
		config: configDir, templates: templatesDir,
	}
	if code, _, stderr := c.tidings(t, "customers", "generate", "--count", fmt.Sprint(customers)); code != 0 {
		t.Fatalf("generate: %s", stderr)
	}
	return c
}

func (c *cluster) env(k string) string {
	return map[string]string{"TIDINGS_DATABASE_URL": c.dbURL, "TIDINGS_REDIS_URL": c.redisURL, "TIDINGS_SECRET": "test",
		"TIDINGS_TWILIO_ACCOUNT_SID": testAccountSID, "TIDINGS_TWILIO_AUTH_TOKEN": "testtoken"}[k]
}

const testAccountSID = "AC0123456789abcdef0123456789abcdef"

// tidings runs a command in process, in the cluster's folder.
func (c *cluster) tidings(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncbuf.Buffer
	args = append([]string{"--config", c.config, "--templates", c.templates}, args...)
	code := run(context.Background(), args, nil, &stdout, &stderr, c.env)
	return code, stdout.String(), stderr.String()
}

// worker starts a worker process; it is killed when the test ends.
func (c *cluster) worker(t *testing.T, concurrency int, flags ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{"--config", c.config, "--templates", c.templates, "worker", "--concurrency", fmt.Sprint(concurrency)}, flags...)
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "TIDINGS_DATABASE_URL="+c.dbURL, "TIDINGS_REDIS_URL="+c.redisURL, "TIDINGS_SECRET=test",
		"TIDINGS_TWILIO_ACCOUNT_SID="+testAccountSID, "TIDINGS_TWILIO_AUTH_TOKEN=testtoken")
	log, _ := os.Create(filepath.Join(c.dir, fmt.Sprintf("worker-%d.log", time.Now().UnixNano())))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		log.Close()
	})
	return cmd
}

func (c *cluster) open(t *testing.T) *store.DB {
	db, err := store.Open(context.Background(), c.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func (c *cluster) waitDone(t *testing.T, db *store.DB, run string, timeout time.Duration) store.RunSummary {
	return c.waitCampaign(t, db, "notice", run, timeout)
}

func (c *cluster) waitCampaign(t *testing.T, db *store.DB, campaign, run string, timeout time.Duration) store.RunSummary {
	t.Helper()
	s, err := storetest.WaitRun(db, campaign, run, store.RunDone, timeout)
	if err != nil {
		logs, _ := filepath.Glob(filepath.Join(c.dir, "worker-*.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", l, b)
		}
		t.Fatal(err)
	}
	return s
}

// checkOnce asserts that no message went out twice, that every ledger row
// is accounted for, and that every sent row has exactly one message.
func (c *cluster) checkOnce(t *testing.T, db *store.DB, s store.RunSummary) map[string]int {
	t.Helper()
	log, err := outbox.ReadSentLog(filepath.Join(c.dir, "outbox"))
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range log {
		if n > 1 {
			t.Errorf("%s sent %d times", id, n)
		}
	}
	if got := s.Total(store.StatusSent); got > int64(len(log)) {
		t.Errorf("ledger says %d sent, the outbox has %d", got, len(log))
	}
	if s.Total("") != s.Targeted {
		t.Errorf("targeted %d, accounted %d: %+v", s.Targeted, s.Total(""), s.Counts)
	}
	if f := s.Total(store.StatusFailed); f != 0 {
		t.Errorf("%d failed: %+v", f, s.Counts)
	}
	return log
}

// A worker killed with SIGKILL in the middle of a run, and a new one
// started: nobody gets a second message, every eligible customer ends sent
// or unknown, and unknown is at most the rows the dead worker's batches can
// hold unsettled (delivery.UnsettledBound).
func TestWorkerKilledMidRun(t *testing.T) {
	t.Parallel() // mostly waits: for Asynq's lease on the dead worker's batches
	const concurrency = 4
	c := newCluster(t, 6000)
	db := c.open(t)
	first := c.worker(t, concurrency)
	if code, out, stderr := c.tidings(t, "send", "notice", "--occurrence", "k1", "--force"); code != 0 {
		t.Fatalf("send: %s %s", out, stderr)
	}
	// Kill it once it is well into the run.
	for deadline := time.Now().Add(time.Minute); ; {
		log, _ := outbox.ReadSentLog(filepath.Join(c.dir, "outbox"))
		if len(log) >= 800 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d sent after a minute", len(log))
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	before, _ := outbox.ReadSentLog(filepath.Join(c.dir, "outbox"))

	c.worker(t, concurrency)
	// Asynq hands the dead worker's batches to another after their lease
	// (30 s) expires; their next attempts call the unsettled rows unknown
	// (they were claimed more than sending_timeout, 3 s, before).
	s := c.waitDone(t, db, "k1", 3*time.Minute)
	log := c.checkOnce(t, db, s)
	if unknown, bound := s.Total(store.StatusUnknown), delivery.UnsettledBound(concurrency); unknown > int64(bound) {
		t.Errorf("%d unknown, more than the bound %d for concurrency %d", unknown, bound, concurrency)
	}
	if len(log) <= len(before) {
		t.Errorf("the second worker sent nothing: %d before, %d after", len(before), len(log))
	}
	t.Logf("killed after %d messages; run ended with %+v", len(before), s.Counts)
}

// Three worker processes on one Redis share a 20,000-recipient run: 80
// batches, enough for each to take several. (It had 50,000, which made it
// the suite's slowest test and proved nothing more; throughput is the
// bench's to measure.)
func TestThreeWorkersShareARun(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 recipients")
	}
	t.Parallel()
	const recipients = 20000
	c := newCluster(t, recipients)
	db := c.open(t)
	for i := 0; i < 3; i++ {
		c.worker(t, 8)
	}
	if code, out, stderr := c.tidings(t, "send", "notice", "--occurrence", "k3", "--force"); code != 0 {
		t.Fatalf("send: %s %s", out, stderr)
	}
	s := c.waitDone(t, db, "k3", 5*time.Minute)
	if s.Targeted != recipients {
		t.Errorf("targeted %d, want %d", s.Targeted, recipients)
	}
	log := c.checkOnce(t, db, s)
	if int64(len(log)) != s.Total(store.StatusSent) {
		t.Errorf("outbox %d, ledger sent %d", len(log), s.Total(store.StatusSent))
	}
	// All three took part: each worker's log file is non-trivial is not a
	// contract; the ledger is. Deliveries must have come from batches handled
	// by more than one process, which the task ids cannot show, so we only
	// check the outcome.
}

// Two worker processes sharing `rate: 50/s` never exceed it by more than 10%
// in any 10-second window, measured where the messages arrive: an HTTP
// server speaking Twilio's Messages API.
func TestTwoWorkersShareARate(t *testing.T) {
	t.Parallel() // mostly waits for the rate
	var mu sync.Mutex
	var arrivals []time.Time
	twilio := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		if r.Method != http.MethodPost || user != testAccountSID || pass != "testtoken" ||
			r.URL.Path != "/2010-04-01/Accounts/"+testAccountSID+"/Messages.json" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code":20003,"message":"Authenticate","status":401}`)
			return
		}
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		n := len(arrivals)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"sid":"SM%032x","status":"queued"}`, n)
	}))
	defer twilio.Close()

	dir := t.TempDir()
	abs, _ := filepath.Abs("testdata/pipeline")
	configDir := filepath.Join(dir, "configs")
	os.MkdirAll(filepath.Join(configDir, "segments"), 0o755)
	os.MkdirAll(filepath.Join(configDir, "campaigns"), 0o755)
	os.WriteFile(filepath.Join(configDir, "segments", "all.yaml"), []byte("name: all\nwhere:\n  id: {gt: 0}\n"), 0o644)
	os.WriteFile(filepath.Join(configDir, "campaigns", "texts.yaml"), []byte(
		"name: texts\nkind: product\nat: \"2027-03-01 10:00\"\naudience:\n  segment: all\nchannels: [sms]\ntemplate: notice\n"), 0o644)
	os.WriteFile(filepath.Join(configDir, "tidings.yaml"), []byte(fmt.Sprintf(`brand: Test Tea
delivery:
  batch_size: 100
channels:
  sms:
    rate: 50/s
    twilio:
      from: "+14155550100"
      base_url: %s
`, twilio.URL)), 0o644)

	c := newClusterWith(t, 3000, configDir, filepath.Join(abs, "templates"))
	db := c.open(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ops := ln.Addr().String()
	ln.Close()
	c.worker(t, 8, "--listen", ops)
	c.worker(t, 8)
	if code, out, stderr := c.tidings(t, "send", "texts", "--occurrence", "r", "--force"); code != 0 {
		t.Fatalf("send: %s %s", out, stderr)
	}
	s := c.waitCampaign(t, db, "texts", "r", 3*time.Minute)
	mu.Lock()
	defer mu.Unlock()
	if int64(len(arrivals)) != s.Total(store.StatusSent) || len(arrivals) < 1000 {
		t.Fatalf("%d requests arrived, %d sent in the ledger", len(arrivals), s.Total(store.StatusSent))
	}
	// The busiest 10-second window.
	busiest := 0
	for i, j := 0, 0; i < len(arrivals); i++ {
		for arrivals[i].Sub(arrivals[j]) >= 10*time.Second {
			j++
		}
		busiest = max(busiest, i-j+1)
	}
	if busiest > 550 {
		t.Errorf("%d messages in the busiest 10 s, more than 50/s + 10%%", busiest)
	}
	span := arrivals[len(arrivals)-1].Sub(arrivals[0])
	t.Logf("%d messages over %s (%.1f/s); busiest 10 s window: %d", len(arrivals), span.Round(time.Millisecond), float64(len(arrivals)-1)/span.Seconds(), busiest)

	// The worker with --listen exports its waits for the rate, and is ready.
	body := func(path string) (int, string) {
		resp, err := http.Get("http://" + ops + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, metrics := body("/metrics")
	m := regexp.MustCompile(`(?m)^tidings_rate_limit_waits_total\{channel="sms"\} (\d+)`).FindStringSubmatch(metrics)
	if code != 200 || m == nil || m[1] == "0" {
		t.Errorf("worker /metrics: %d, no rate-limit waits counted:\n%s", code, metrics)
	}
	if code, ready := body("/readyz"); code != 200 || ready != "database: ok\nredis: ok\n" {
		t.Errorf("worker /readyz: %d %q", code, ready)
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidings/tidings/channels/outbox"
	"github.com/tidings/tidings/customer"
	"github.com/tidings/tidings/internal/syncbuf"
	"github.com/tidings/tidings/store"
	"github.com/tidings/tidings/store/storetest"
)

// tidings runs the real command line with the given database and returns
// its exit code, stdout and stderr.
func tidings(t *testing.T, dbURL string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := map[string]string{"TIDINGS_DATABASE_URL": dbURL}
	args = append([]string{"--config", "../../configs", "--templates", "../../templates"}, args...)
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr, func(k string) string { return env[k] })
	return code, stdout.String(), stderr.String()
}

// eachDatabase runs fn against a fresh SQLite file and a fresh PostgreSQL schema.
func eachDatabase(t *testing.T, fn func(t *testing.T, url string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.SQLiteURL(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, storetest.NewPostgresURL(t)) })
}

// badRows are the mistakes planted in the import file, one per bad row in
// turn, with the reason the import must give.
var badRows = []struct {
	mutate func(rec []string) []string
	reason string
}{
	{func(r []string) []string { r[3] = "12345"; return r }, `phone "12345": `},
	{func(r []string) []string { r[2] = "wang.at.example.com"; return r }, `email "wang.at.example.com": `},
	{func(r []string) []string { r[5] = "Mars/Olympus"; return r }, `timezone "Mars/Olympus": `},
	{func(r []string) []string { r[6] = "2023-02-29"; return r }, `birthday "2023-02-29": `},
	{func(r []string) []string { r[0] = ""; return r }, `external_id: `},
	{func(r []string) []string { r[7] = "platinum"; return r }, `tier "platinum": `},
	{func(r []string) []string { return r[:len(r)-1] }, `wrong number of fields`},
	{func(r []string) []string { r[15] = "many"; return r }, `purchase_count "many": `},
	// encoding/csv read an unclosed quote to the end of the file: one
	// stray quote lost every row after it.
	{func(r []string) []string { r[1] = `"Stray quote`; return r }, `unclosed quote: `},
	{func(r []string) []string { r[2] = `wang"@example.com`; return r }, `bare " `},
	// PostgreSQL refused the whole batch of such a row.
	{func(r []string) []string { r[1] = "Wang \xff\xfe"; return r }, `name: not UTF-8 `},
	{func(r []string) []string { r[1] = "Wang\x00"; return r }, `name: contains a NUL byte`},
	{func(r []string) []string { r[1] = strings.Repeat("王", 201); return r }, `name: too long: 201 characters, at most 200`},
	{func(r []string) []string { r[1] = strings.Repeat("王", 200<<10); return r }, `line longer than 64 KiB`},
	{func(r []string) []string { r[len(r)-1] = strings.Repeat("x", 2000); return r }, `attributes.city: too long: `},
	{func(r []string) []string { r[14] = "2062-01-01"; return r }, `last_purchase_at "2062-01-01": in the future`},
	{func(r []string) []string { r[6] = "2030-05-01"; return r }, `birthday "2030-05-01": in the future`},
}

// writeImportFile writes n generated customers as CSV and spoils every
// hundredth row. It returns the line numbers of the spoiled rows.
func writeImportFile(t *testing.T, path string, n int) map[int]string {
	t.Helper()
	var buf bytes.Buffer
	w := customer.NewCSVWriter(&buf, []string{"city"})
	g := customer.NewGenerator(7, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	for i := 0; i < n; i++ {
		if err := w.Write(g.Next()); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	bad := map[int]string{}
	for i := 1; i < len(lines); i++ {
		if i%100 != 50 {
			continue
		}
		// Generated rows hold no quotes or embedded commas in the fields we spoil.
		rec := strings.Split(lines[i], ",")
		k := (i / 100) % len(badRows)
		lines[i] = strings.Join(badRows[k].mutate(rec), ",")
		bad[i+1] = badRows[k].reason // line numbers are 1-based; the header is line 1
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return bad
}

var reportRe = regexp.MustCompile(`^(.*): line (\d+): (.*)$`)

// An import with a bad row in every hundred, of every kind, reports each
// by its line and imports every good one, on both databases, and its exit
// status says rows were skipped; again, it updates them all and adds none.
func TestImportWithBadRows(t *testing.T) {
	t.Parallel()
	const rows = 100000
	file := filepath.Join(t.TempDir(), "customers.csv")
	bad := writeImportFile(t, file, rows)
	if len(bad) != rows/100 {
		t.Fatalf("planted %d bad rows", len(bad))
	}
	good := rows - len(bad)

	eachDatabase(t, func(t *testing.T, url string) {
		code, stdout, stderr := tidings(t, url, "customers", "import", file)
		if code != exitBadRows {
			t.Fatalf("exit %d, want %d\n%s", code, exitBadRows, stderr)
		}
		reported := map[int]bool{}
		for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
			m := reportRe.FindStringSubmatch(line)
			if m == nil || m[1] != file {
				t.Fatalf("unexpected report line %q", line)
			}
			n, _ := strconv.Atoi(m[2])
			want, ok := bad[n]
			if !ok {
				t.Errorf("line %d reported but not bad: %s", n, line)
				continue
			}
			if !strings.HasPrefix(m[3], want) {
				t.Errorf("line %d: reason %q, want it to start with %q", n, m[3], want)
			}
			reported[n] = true
		}
		if len(reported) != len(bad) {
			t.Errorf("%d bad rows reported, %d planted", len(reported), len(bad))
		}
		wantSummary := fmt.Sprintf("%s: imported %d customers (%d new, 0 updated), skipped %d bad rows\n", file, good, good, len(bad))
		if stdout != wantSummary {
			t.Errorf("summary %q, want %q", stdout, wantSummary)
		}
		if n := countCustomers(t, url); n != int64(good) {
			t.Fatalf("%d customers in the database, want %d", n, good)
		}

		// Again: everything is an update, nothing is added.
		code, stdout, _ = tidings(t, url, "customers", "import", file)
		wantSummary = fmt.Sprintf("%s: imported %d customers (0 new, %d updated), skipped %d bad rows\n", file, good, good, len(bad))
		if code != exitBadRows || stdout != wantSummary {
			t.Errorf("re-import: exit %d, summary %q, want %q", code, stdout, wantSummary)
		}
		if n := countCustomers(t, url); n != int64(good) {
			t.Errorf("%d customers after re-import, want %d", n, good)
		}
	})
}

func countCustomers(t *testing.T, url string) int64 {
	t.Helper()
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n, err := db.CountCustomers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestImportUnknownColumnWritesNothing(t *testing.T) {
	url := storetest.SQLiteURL(t)
	file := filepath.Join(t.TempDir(), "c.csv")
	os.WriteFile(file, []byte("external_id,name,emial\nC1,Wang,wang@example.com\n"), 0o644)
	code, _, stderr := tidings(t, url, "customers", "import", file)
	if code != 1 || !strings.Contains(stderr, `unknown column "emial"; did you mean "email"?`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if n := countCustomers(t, url); n != 0 {
		t.Errorf("%d customers imported", n)
	}
}

func TestValidate(t *testing.T) {
	code, stdout, stderr := tidings(t, "", "validate")
	if code != 0 || stdout != "../../configs: 9 segments, 3 campaigns: OK\n" {
		t.Errorf("shipped configs: exit %d, %q %q", code, stdout, stderr)
	}

	dir := "../../campaigns/testdata/invalid/many-errors"
	var out, errOut bytes.Buffer
	code = run(context.Background(), []string{"validate", "--config", dir, "--templates", "../../campaigns/testdata/templates"},
		strings.NewReader(""), &out, &errOut, func(string) string { return "" })
	want, _ := os.ReadFile(filepath.Join(dir, "want.txt"))
	want = bytes.ReplaceAll(want, []byte("testdata/"), []byte("../../campaigns/testdata/"))
	if code != 1 || errOut.String() != string(want)+"5 errors in "+dir+"\n" {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, errOut.String(), want)
	}
}

// demoConfig copies the shipped configuration with the outbox moved to a
// temporary folder, so the demo writes nothing into the source tree.
func demoConfig(t *testing.T) (configDir, outboxDir string) {
	t.Helper()
	dir := t.TempDir()
	outboxDir = filepath.Join(dir, "outbox")
	if err := os.CopyFS(filepath.Join(dir, "configs"), os.DirFS("../../configs")); err != nil {
		t.Fatal(err)
	}
	settings := filepath.Join(dir, "configs", "tidings.yaml")
	src, _ := os.ReadFile(settings)
	src = bytes.Replace(src, []byte("outbox: .tidings/outbox"), []byte("outbox: "+outboxDir), 1)
	if err := os.WriteFile(settings, src, 0o644); err != nil {
		t.Fatal(err)
	}
	// Without their send windows, so that what the demo sends does not
	// depend on the hour the test runs (windows: delivery's window tests).
	files, _ := filepath.Glob(filepath.Join(dir, "configs", "campaigns", "*.yaml"))
	for _, f := range files {
		src, _ := os.ReadFile(f)
		src = regexp.MustCompile(`(?m)^(send_window|send_at_local):`).ReplaceAll(src, []byte("# $1:"))
		if err := os.WriteFile(f, src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "configs"), outboxDir
}

func TestAudienceAndDemo(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, url string) {
		configDir, outboxDir := demoConfig(t)
		// The day's birthdays and occurrences, on a fixed day.
		env := map[string]string{"TIDINGS_DATABASE_URL": url, testNowEnv: "2027-02-06T10:00:00+08:00"}
		withConfig := func(args ...string) (int, string, string) {
			var out, errOut syncbuf.Buffer
			code := run(context.Background(), append([]string{"--config", configDir, "--templates", "../../templates"}, args...), nil, &out, &errOut,
				func(k string) string { return env[k] })
			return code, out.String(), errOut.String()
		}
		// The demo takes the customers it finds: 2,000, where it would
		// make 20,000 (TestQuickStartDemo runs it on an empty database).
		const customers = 2000
		if code, _, stderr := withConfig("customers", "generate", "--count", fmt.Sprint(customers)); code != 0 {
			t.Fatalf("generate: exit %d\n%s", code, stderr)
		}
		code, stdout, stderr := withConfig("demo", "--once")
		if code != 0 {
			t.Fatalf("demo: exit %d\n%s", code, stderr)
		}
		for _, name := range []string{"spring-festival", "birthday-gift", "new-product"} {
			if !strings.Contains(stdout, "== "+name+" (run ") {
				t.Errorf("demo output lacks %s:\n%s", name, stdout)
			}
		}
		// The messages are there, once each, and the summary says how many.
		log, err := outbox.ReadSentLog(outboxDir)
		if err != nil || len(log) == 0 {
			t.Fatalf("outbox: %d messages, %v", len(log), err)
		}
		for id, n := range log {
			if n != 1 {
				t.Errorf("%s sent %d times", id, n)
			}
		}
		if !strings.Contains(stdout, fmt.Sprintf("\n%d messages in ", len(log))) || !strings.Contains(stdout, outboxDir) {
			t.Errorf("summary does not say %d messages in %s:\n%s", len(log), outboxDir, stdout)
		}

		code, stdout, stderr = withConfig("runs")
		if code != 0 || strings.Count(stdout, " done ") != 3 {
			t.Errorf("runs: exit %d, want 3 done runs:\n%s%s", code, stdout, stderr)
		}
		code, stdout, stderr = withConfig("preview", "birthday-gift", "--customer", "C0000002")
		if code != 0 || !strings.Contains(stdout, "--- sms to C0000002") || !strings.Contains(stdout, "--- email to C0000002") || !strings.Contains(stdout, "BDAY-") {
			t.Errorf("preview: exit %d\n%s%s", code, stdout, stderr)
		}
		// A follow-up's preview is the reminder, not the launch.
		code, stdout, stderr = withConfig("preview", "new-product", "--customer", "C0000002", "--occurrence", "follow-up-1")
		if code != 0 || !strings.Contains(stdout, "春茶所剩不多") {
			t.Errorf("preview of follow-up-1: exit %d\n%s%s", code, stdout, stderr)
		}
		sentBefore := len(log)
		code, stdout, stderr = withConfig("send", "new-product", "--dry-run")
		if code != 0 || !strings.Contains(stdout, "campaign new-product: ") || !strings.Contains(stdout, "--- email to ") {
			t.Errorf("send --dry-run: exit %d\n%s%s", code, stdout, stderr)
		}
		if after, _ := outbox.ReadSentLog(outboxDir); len(after) != sentBefore {
			t.Errorf("a dry run sent %d messages", len(after)-sentBefore)
		}

		// audience agrees with a direct count over the same database.
		code, stdout, stderr = tidings(t, url, "audience", "tier-gold", "--sample", "3")
		if code != 0 {
			t.Fatalf("audience: exit %d\n%s", code, stderr)
		}
		db, err := store.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var gold int64
		db.SQL().QueryRow("SELECT COUNT(*) FROM customers WHERE tier = 'gold'").Scan(&gold)
		if gold == 0 || !strings.HasPrefix(stdout, fmt.Sprintf("segment tier-gold: %d of %d customers\n", gold, customers)) {
			t.Errorf("gold = %d, output:\n%s", gold, stdout)
		}
		if rows := strings.Count(stdout, " gold "); rows != 3 {
			t.Errorf("%d sample rows, want 3:\n%s", rows, stdout)
		}

		code, _, stderr = tidings(t, url, "audience", "tier-golden")
		if code != 1 || !strings.Contains(stderr, `no segment or campaign named "tier-golden"`) {
			t.Errorf("unknown name: exit %d, %q", code, stderr)
		}
	})
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, args := range [][]string{{}, {"validate"}, {"audience"}, {"customers"}, {"customers", "import"}, {"customers", "generate"}, {"demo"},
		{"worker"}, {"send"}, {"runs"}, {"preview"}, {"resume"}, {"bench"}, {"scheduler"}} {
		code, stdout, _ := tidings(t, "", append(args, "--help")...)
		if code != 0 || !strings.Contains(stdout, "Usage:") {
			t.Errorf("%v --help: exit %d\n%s", args, code, stdout)
		}
	}
}

// A repeated external id is one customer, and a partial file updates only
// its columns. A broken campaign file does not stop an import.
func TestImportCountsAndPartialColumns(t *testing.T) {
	url := storetest.SQLiteURL(t)
	dir := t.TempDir()
	full := filepath.Join(dir, "full.csv")
	os.WriteFile(full, []byte("external_id,name,tier,tags,email\nC1,Wang,gold,vip,a@example.com\nC2,Li,key,,b@example.com\nC1,Wang Fang,gold,vip,a@example.com\n"), 0o644)
	code, stdout, stderr := tidings(t, url, "customers", "import", full)
	if want := full + ": imported 2 customers (2 new, 0 updated), skipped 0 bad rows\n"; code != 0 || stdout != want {
		t.Fatalf("exit %d, %q (want %q), %s", code, stdout, want, stderr)
	}

	partial := filepath.Join(dir, "emails.csv")
	os.WriteFile(partial, []byte("external_id,email\nC1,new@example.com\n"), 0o644)
	cfgDir := filepath.Join(dir, "configs")
	os.MkdirAll(filepath.Join(cfgDir, "campaigns"), 0o755)
	os.WriteFile(filepath.Join(cfgDir, "campaigns", "broken.yaml"), []byte("name: [\n"), 0o644)
	var out, errOut bytes.Buffer
	code = run(context.Background(), []string{"--config", cfgDir, "customers", "import", partial}, strings.NewReader(""), &out, &errOut,
		func(k string) string { return map[string]string{"TIDINGS_DATABASE_URL": url}[k] })
	if code != 0 {
		t.Fatalf("partial import: exit %d: %s", code, errOut.String())
	}
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, _ := db.CustomerByExternalID(context.Background(), "C1")
	if c.Email != "new@example.com" || c.Name != "Wang Fang" || c.Tier != customer.TierGold || strings.Join(c.Tags, ",") != "vip" {
		t.Errorf("after partial import: %+v", c)
	}
}

// A template that uses the coupon in a campaign without a gift fails
// validation at the template file's line and column, naming the campaign.
func TestValidateChecksTemplates(t *testing.T) {
	configDir, _ := demoConfig(t)
	file := filepath.Join(configDir, "campaigns", "birthday-gift.yaml")
	src, _ := os.ReadFile(file)
	i := bytes.Index(src, []byte("gift:"))
	os.WriteFile(file, src[:i], 0o644)
	var out, errOut syncbuf.Buffer
	code := run(context.Background(), []string{"--config", configDir, "--templates", "../../templates", "validate"}, nil, &out, &errOut,
		func(string) string { return "" })
	want := "\n../../templates/birthday-gift/sms.txt:1:74: {{.CouponValue}}: error calling CouponValue: no coupon: the campaign has no gift (campaign birthday-gift)\n"
	if code != 1 || !strings.Contains("\n"+errOut.String(), want) {
		t.Errorf("exit %d:\n%s", code, errOut.String())
	}
}

// The segment limit holds for the footer of each destination too: a
// Chinese SMS that fits one part with 回T退订 takes two with the STOP line a
// +1 number gets.
func TestValidateChecksSMSPerDestination(t *testing.T) {
	configDir, _ := demoConfig(t)
	tmplDir := filepath.Join(t.TempDir(), "templates")
	if err := os.CopyFS(tmplDir, os.DirFS("../../templates")); err != nil {
		t.Fatal(err)
	}
	zh := strings.Repeat("新春快乐，万事如意。", 6) + "回T退订\n" // 64 characters: one UCS-2 part
	os.WriteFile(filepath.Join(tmplDir, "spring-festival", "sms.zh.txt"), []byte(zh), 0o644)
	os.WriteFile(filepath.Join(tmplDir, "spring-festival", "sms.txt"), []byte("Happy Spring Festival! Reply STOP to opt out\n"), 0o644)
	settings := filepath.Join(configDir, "tidings.yaml")
	src, _ := os.ReadFile(settings)
	i := bytes.Index(src, []byte("\nchannels:"))
	if i < 0 {
		i = len(src)
	}
	src = append(src[:i:i], []byte("\nchannels:\n  sms:\n    max_segments: 1\n    footer: {zh: \"回T退订\", default: \"Reply STOP to opt out\"}\n")...)
	os.WriteFile(settings, src, 0o644)
	var out, errOut syncbuf.Buffer
	code := run(context.Background(), []string{"--config", configDir, "--templates", tmplDir, "validate"}, nil, &out, &errOut, func(string) string { return "" })
	got := errOut.String()
	if code != 1 ||
		!strings.Contains(got, `template spring-festival, SMS for locale "zh" to a US number, which ends with the opt-out "Reply STOP to opt out" that country asks for, is 2 segments (UCS-2, 82 characters) for a sample customer; the limit is 1 (sms_max_segments)`) {
		t.Errorf("exit %d:\n%s", code, got)
	}
	// One part for a CN number by its own footer; the English one, which
	// stays GSM-7 with STOP, also for a US one.
	if strings.Contains(got, `spring-festival, SMS for locale "zh" is `) || strings.Contains(got, `spring-festival, SMS for locale "en"`) {
		t.Errorf("spring-festival errors beyond the zh SMS to a US number:\n%s", got)
	}
}

// SMS templates are held to the opt-out footer and the segment limit.
func TestValidateChecksSMS(t *testing.T) {
	configDir, _ := demoConfig(t)
	tmplDir := filepath.Join(t.TempDir(), "templates")
	if err := os.CopyFS(tmplDir, os.DirFS("../../templates")); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("新春快乐，万事如意。", 8) + "回T退订\n" // 84 characters: UCS-2, 2 segments
	os.WriteFile(filepath.Join(tmplDir, "spring-festival", "sms.zh.txt"), []byte(long), 0o644)
	settings := filepath.Join(configDir, "tidings.yaml")
	src, _ := os.ReadFile(settings)
	i := bytes.Index(src, []byte("\nchannels:"))
	if i < 0 {
		i = len(src)
	}
	src = append(src[:i:i], []byte("\nchannels:\n  sms:\n    max_segments: 1\n    footer: {zh: \"回T退订\", default: \"Reply HALT to opt out\"}\n")...)
	os.WriteFile(settings, src, 0o644)
	var out, errOut syncbuf.Buffer
	code := run(context.Background(), []string{"--config", configDir, "--templates", tmplDir, "validate"}, nil, &out, &errOut, func(string) string { return "" })
	got := errOut.String()
	if code != 1 ||
		!strings.Contains(got, `template spring-festival, SMS for locale "zh" is 2 segments (UCS-2, 84 characters) for a sample customer; the limit is 1 (sms_max_segments)`) ||
		!strings.Contains(got, `template spring-festival, SMS for locale "en" lacks the opt-out footer "Reply HALT to opt out"`) {
		t.Errorf("exit %d:\n%s", code, got)
	}
}

// `tidings runs NAME` for a name that is no campaign says so and exits 1,
// with the likely typo's correction, rather than "no runs yet"; a
// configured campaign without runs is not an error, and a campaign whose
// file is gone still shows the runs it had.
func TestRunsOfUnknownCampaign(t *testing.T) {
	url := storetest.SQLiteURL(t)
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.StartRun(context.Background(), "retired-greeting", "2026-01-01"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, tc := range []struct {
		arg          string
		code         int
		stdout, want string
	}{
		{"NOSUCH", 1, "", `no campaign named "NOSUCH" (have: birthday-gift, new-product, spring-festival)`},
		{"birthday-gfit", 1, "", `no campaign named "birthday-gfit"; did you mean "birthday-gift"? (have: birthday-gift, new-product, spring-festival)`},
		{"birthday-gift", 0, "no runs of birthday-gift yet\n", ""},
		{"retired-greeting", 0, "retired-greeting  2026-01-01", ""},
	} {
		code, stdout, stderr := tidings(t, url, "runs", tc.arg)
		if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.want) || (tc.code == 1 && stdout != "") {
			t.Errorf("runs %s: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q", tc.arg, code, stdout, stderr, tc.code, tc.stdout, tc.want)
		}
	}
}

// One run of validate lists the problems of every stage, each at its file,
// line and column: a configuration error does not hide the templates'
// errors (not even those of the campaign in error), and a template that
// does not parse hides no other template's render error.
func TestValidateReportsEveryStage(t *testing.T) {
	dir := t.TempDir()
	configDir, tmplDir := filepath.Join(dir, "configs"), filepath.Join(dir, "templates")
	if err := os.CopyFS(configDir, os.DirFS("../../configs")); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(tmplDir, os.DirFS("../../templates")); err != nil {
		t.Fatal(err)
	}
	edit := func(file, old, new string) {
		t.Helper()
		src, err := os.ReadFile(file)
		if err != nil || !bytes.Contains(src, []byte(old)) {
			t.Fatalf("%s lacks %q (%v)", file, old, err)
		}
		os.WriteFile(file, bytes.Replace(src, []byte(old), []byte(new), 1), 0o644)
	}
	// The configuration: a window across midnight without "overnight".
	campaign := filepath.Join(configDir, "campaigns", "spring-festival.yaml")
	edit(campaign, `send_window: "09:00-21:00"`, `send_window: "21:00-09:00"`)
	// A parse error, in another campaign's template.
	newProduct := filepath.Join(tmplDir, "new-product", "email.txt")
	os.WriteFile(newProduct, []byte("Hello {{.FirstName}},\n\nNew {{cupon}} today.\n{{.UnsubscribeURL}}\n"), 0o644)
	// A render error, in the template of the campaign in error.
	greeting := filepath.Join(tmplDir, "spring-festival", "sms.txt")
	os.WriteFile(greeting, []byte("Happy new year, {{.Customer.Nmae}}! Reply STOP to opt out\n"), 0o644)

	var out, errOut syncbuf.Buffer
	code := run(context.Background(), []string{"--config", configDir, "--templates", tmplDir, "validate"}, nil, &out, &errOut, func(string) string { return "" })
	want := campaign + `:12:14: send_window: "21:00-09:00" ends before it starts (if you mean overnight, write "21:00-09:00 overnight"; for the day, "09:00-21:00")` + "\n" +
		newProduct + `:3:5: function "cupon" not defined` + "\n" +
		greeting + `:1:28: {{.Customer.Nmae}}: can't evaluate field Nmae in type templates.Customer (campaign spring-festival)` + "\n" +
		"1 error in " + configDir + ", 2 errors in " + tmplDir + "\n"
	if code != 1 || errOut.String() != want || out.String() != "" {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, out.String(), errOut.String(), want)
	}
}

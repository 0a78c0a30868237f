package scheduler_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/scheduler"
)

// A campaign of named holidays fires on their dates from the shipped
// calendar, at its cron's time of day in its zone, and on no other day.
func TestNamedHolidaysFire(t *testing.T) {
	t.Parallel()
	cfg := loadConfig(t, map[string]string{
		"campaigns/festivals.yaml": `name: festivals
kind: holiday
holidays: [spring_festival, mid_autumn]
schedule: {cron: "0 9 * * *", timezone: Asia/Shanghai}
audience: {segment: all}
channels: [sms]
template: t
`,
	})
	sh, _ := time.LoadLocation("Asia/Shanghai")
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, sh), time.Date(2027, 12, 31, 23, 59, 59, 0, sh)
	var got []string
	for _, f := range scheduler.Fires(cfg.Campaigns["festivals"], from, to) {
		got = append(got, f.Occurrence+" "+f.At.In(sh).Format("15:04 MST"))
		if f.At.In(sh).Format("2006-01-02") != f.Occurrence {
			t.Errorf("occurrence %s fires at %s", f.Occurrence, f.At)
		}
	}
	want := []string{"2026-02-17 09:00 CST", "2026-09-25 09:00 CST", "2027-02-06 09:00 CST", "2027-09-15 09:00 CST"}
	if !slices.Equal(got, want) {
		t.Errorf("fires %v, want %v", got, want)
	}
}

// loadConfig loads a configuration of the given files (path → text) beside
// a segment "all", with the templates of testdata.
func loadConfig(t *testing.T, files map[string]string) *campaigns.Config {
	t.Helper()
	dir := t.TempDir()
	files["segments/all.yaml"] = "name: all\nwhere:\n  id: {gt: 0}\n"
	for name, text := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := campaigns.Load(dir, "testdata/templates")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

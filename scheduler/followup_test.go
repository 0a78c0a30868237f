package scheduler_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tidings/tidings/scheduler"
)

// A product launch fires once at `at`, and each follow-up once at `at`
// plus its delay, under its own occurrence.
func TestProductFollowUpsFire(t *testing.T) {
	t.Parallel()
	cfg := loadConfig(t, map[string]string{
		"campaigns/launch.yaml": `name: launch
kind: product
at: "2027-03-01 10:00"
schedule: {timezone: Asia/Shanghai}
audience: {segment: all}
channels: [email]
template: t
follow_ups:
  - {after: 3d, template: t}
  - {after: 10d, template: t, channels: [sms]}
`,
	})
	c := cfg.Campaigns["launch"]
	var got []string
	for _, f := range scheduler.Fires(c, c.At.Add(-time.Hour), c.At.AddDate(0, 1, 0)) {
		got = append(got, f.Occurrence+"@"+f.At.In(c.Schedule.Location).Format("01-02 15:04"))
	}
	want := "once@03-01 10:00 follow-up-1@03-04 10:00 follow-up-2@03-11 10:00"
	if strings.Join(got, " ") != want {
		t.Errorf("fires %v, want %s", got, want)
	}
	if v := c.ForRun("follow-up-2"); v.Channels[0] != "sms" || c.Channels[0] != "email" {
		t.Errorf("follow-up-2 channels %v, campaign %v", v.Channels, c.Channels)
	}
}

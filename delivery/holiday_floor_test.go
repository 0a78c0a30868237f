package delivery_test

import (
	"testing"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/delivery"
)

// send_at_local 23:30 is the window [23:30, 00:30). A holiday run that
// starts on the holiday in Shanghai greets Los Angeles at 23:30 on its
// holiday, not at midnight in the tail of the eve's window.
func TestHolidayLateSendAtLocal(t *testing.T) {
	sh, la := mustZone(t, "Asia/Shanghai"), mustZone(t, "America/Los_Angeles")
	at := campaigns.Clock(23*60 + 30)
	c := &campaigns.Campaign{Kind: campaigns.KindHoliday, SendAtLocal: &at, Schedule: campaigns.Schedule{Location: sh}}
	start := time.Date(2027, 2, 6, 9, 0, 0, 0, sh) // run at 09:00 Shanghai on the holiday
	due := delivery.DueAt(c, "2027-02-06", la, start)
	t.Logf("LA due %s", due.In(la))
	if l := due.In(la); l.Hour() != 23 || l.Minute() != 30 {
		t.Errorf("send_at_local 23:30: LA greeted at %s, not at 23:30", l)
	}
}

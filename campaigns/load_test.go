package campaigns_test

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidings/tidings/campaigns"
)

var update = flag.Bool("update", false, "rewrite testdata/invalid/*/want.txt from the loader's output")

// Each folder under testdata/invalid is a configuration with one kind of
// mistake (many-errors has several); want.txt holds the exact output of
// `tidings validate` for it, positions included. Review a diff of want.txt
// after running with -update: these messages are what marketers read.
func TestInvalidConfigs(t *testing.T) {
	dirs, err := filepath.Glob("testdata/invalid/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			_, err := campaigns.Load(dir, "testdata/templates")
			if err == nil {
				t.Fatal("loaded without error")
			}
			if _, ok := err.(campaigns.Errors); !ok {
				t.Fatalf("error is %T, want campaigns.Errors: %v", err, err)
			}
			got := err.Error() + "\n"
			wantFile := filepath.Join(dir, "want.txt")
			if *update {
				os.WriteFile(wantFile, []byte(got), 0o644)
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestValidConfig(t *testing.T) {
	cfg, err := campaigns.Load("../configs", "../templates")
	if err != nil {
		t.Fatalf("shipped configs do not load:\n%v", err)
	}
	if len(cfg.Campaigns) == 0 || len(cfg.Segments) == 0 {
		t.Fatalf("shipped configs are empty: %d campaigns, %d segments", len(cfg.Campaigns), len(cfg.Segments))
	}
	c := cfg.Campaigns["birthday-gift"]
	if c == nil || c.Kind != campaigns.KindBirthday || c.Schedule.Location.String() != "Asia/Shanghai" ||
		strings.Join(c.Channels, ",") != "sms,email" || c.Delivery != campaigns.DeliveryFirst ||
		c.Gift == nil || c.Gift.Coupon.Prefix != "BDAY" || c.Gift.Coupon.Amount != 50 || c.Audience.Name != "marketable" {
		t.Errorf("birthday-gift decoded as %+v", c)
	}
	if p := cfg.Campaigns["new-product"]; p == nil || p.At.Format("2006-01-02T15:04:05Z07:00") != "2027-03-01T10:00:00+08:00" {
		t.Errorf("new-product at = %v", p.At)
	}
}

func TestLeadingZeroNumbersAreDecimal(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "segments"), 0o755)
	os.WriteFile(filepath.Join(dir, "segments", "aug.yaml"), []byte("name: aug\nwhere:\n  birth_month: 08\n"), 0o644)
	cfg, err := campaigns.Load(dir, dir)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := cfg.Segments["aug"].Where.(*campaigns.Compare)
	if !ok || c.Value != int64(8) {
		t.Errorf("birth_month: 08 decoded as %#v", cfg.Segments["aug"].Where)
	}
}

func TestLoadSettingsIgnoresCampaigns(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "campaigns"), 0o755)
	os.WriteFile(filepath.Join(dir, "campaigns", "broken.yaml"), []byte("name: [\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "tidings.yaml"), []byte("phone_region: US\n"), 0o644)
	s, err := campaigns.LoadSettings(dir)
	if err != nil || s.PhoneRegion != "US" || s.DefaultTimeZone != "Asia/Shanghai" {
		t.Errorf("got %+v, %v", s, err)
	}
	if s, err := campaigns.LoadSettings(filepath.Join(dir, "missing")); err != nil || !reflect.DeepEqual(s, campaigns.DefaultSettings()) {
		t.Errorf("missing folder: %+v, %v", s, err)
	}
}

// A send window across midnight loads only when the file says "overnight";
// the delivery code gets it as a Window whose End is before its Start.
func TestSendWindowOvernight(t *testing.T) {
	for _, tc := range []struct {
		window string
		want   campaigns.Window
		err    string
	}{
		{window: "09:00-21:00", want: campaigns.Window{Start: 9 * 60, End: 21 * 60}},
		{window: " 21:30 - 08:00 overnight", want: campaigns.Window{Start: 21*60 + 30, End: 8 * 60}},
		{window: "21:00-09:00", err: `c.yaml:11:14: send_window: "21:00-09:00" ends before it starts (if you mean overnight, write "21:00-09:00 overnight"; for the day, "09:00-21:00")`},
		{window: "22:00-02:00 Overnight", err: `c.yaml:11:14: send_window: bad window "22:00-02:00 Overnight"`},
		{window: "21:00-21:00 overnight", err: `c.yaml:11:14: send_window: "21:00-21:00 overnight" is empty (remove send_window to send at any time of day)`},
	} {
		t.Run(tc.window, func(t *testing.T) {
			dir := t.TempDir()
			os.CopyFS(dir, os.DirFS("testdata/invalid/campaign-bad-send-window"))
			file := filepath.Join(dir, "campaigns", "c.yaml")
			src, _ := os.ReadFile(file)
			src = []byte(strings.Replace(string(src), `send_window: "9am-9pm"`, `send_window: "`+tc.window+`"`, 1))
			os.WriteFile(file, src, 0o644)
			cfg, err := campaigns.Load(dir, "testdata/templates")
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), file[:len(file)-len("c.yaml")]+tc.err) {
					t.Errorf("error %v\nwant %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w := cfg.Campaigns["greeting"].SendWindow; w == nil || *w != tc.want {
				t.Errorf("send_window %q decoded as %v, want %v", tc.window, w, tc.want)
			} else if got, want := w.String(), strings.Join(strings.Fields(strings.ReplaceAll(tc.window, " - ", "-")), " "); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
		})
	}
}

// LoadPartial returns the errors Load does, and with them the campaigns
// that have errors, so that validate can still check their templates: a
// campaign whose name is bad under its file's path.
func TestLoadPartial(t *testing.T) {
	dir := t.TempDir()
	os.CopyFS(dir, os.DirFS("testdata/invalid/campaign-bad-send-window"))
	// c.yaml has a bad send window; d.yaml, a copy of it, a bad name.
	src, _ := os.ReadFile(filepath.Join(dir, "campaigns", "c.yaml"))
	badName := strings.Replace(strings.Replace(string(src), "name: greeting", "name: Bad Name", 1), `send_window: "9am-9pm"`, "", 1)
	os.WriteFile(filepath.Join(dir, "campaigns", "d.yaml"), []byte(badName), 0o644)

	cfg, err := campaigns.Load(dir, "testdata/templates")
	if cfg != nil || err == nil {
		t.Fatalf("Load: %v, %v; want no config and an error", cfg, err)
	}
	partial, perr := campaigns.LoadPartial(dir, "testdata/templates")
	if perr == nil || perr.Error() != err.Error() {
		t.Errorf("LoadPartial error:\n%v\nwant Load's:\n%v", perr, err)
	}
	if partial == nil {
		t.Fatal("LoadPartial returned no config")
	}
	d := filepath.Join(dir, "campaigns", "d.yaml")
	if got := partial.CampaignNames(); !slices.Equal(got, []string{d, "greeting"}) {
		t.Fatalf("campaigns %q, want the one in error and the one with a bad name", got)
	}
	for _, c := range partial.Campaigns {
		if c.Template != "greeting" || !slices.Equal(c.Channels, []string{"sms"}) {
			t.Errorf("%s: template %q, channels %q; want greeting, [sms]", c.File, c.Template, c.Channels)
		}
	}
}

// delivery.unknown_campaign_grace is 24h unless set, and 0 (give up at
// once) is a value, not "unset".
func TestUnknownCampaignGrace(t *testing.T) {
	if d := campaigns.DefaultSettings().Delivery.UnknownCampaignGrace; d != 24*time.Hour {
		t.Errorf("default %s, want 24h", d)
	}
	for yaml, want := range map[string]time.Duration{"2h": 2 * time.Hour, "0s": 0, "720h": 720 * time.Hour} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "tidings.yaml"), []byte("delivery:\n  unknown_campaign_grace: "+yaml+"\n"), 0o644)
		s, err := campaigns.LoadSettings(dir)
		if err != nil {
			t.Fatalf("%s: %v", yaml, err)
		}
		if got := s.Delivery.UnknownCampaignGrace; got != want {
			t.Errorf("unknown_campaign_grace: %s loaded as %s", yaml, got)
		}
	}
}

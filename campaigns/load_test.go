package campaigns_test

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
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

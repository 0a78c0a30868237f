package typo

import "testing"

func TestDistance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"email", "email", 0},
		{"emial", "email", 2},
		{"emai", "email", 1},
		{"", "abc", 3},
		{"生日", "生日期", 1},
	}
	for _, tt := range tests {
		if got := Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestNearest(t *testing.T) {
	cands := []string{"id", "email", "tier", "timezone"}
	for in, want := range map[string]string{"emial": "email", "TIRE": "tier", "xy": "", "tmiezone": "timezone", "xyz": ""} {
		if got := Nearest(in, cands); got != want {
			t.Errorf("Nearest(%q) = %q, want %q", in, got, want)
		}
	}
}

package main

import (
	"errors"
	"testing"
	"time"
)

func TestParseFakeTime(t *testing.T) {
	wall := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	plus5 := time.FixedZone("UTC+5", 5*3600)
	tests := []struct {
		spec string
		loc  *time.Location
		want time.Time
	}{
		{"@2030-01-02 03:04:05", time.UTC, time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"2030-01-02 03:04:05", time.UTC, time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
		// Local time per TZ: winter and summer time in Berlin, a fixed zone.
		{"@2030-01-02 03:04:05", berlin, time.Date(2030, 1, 2, 2, 4, 5, 0, time.UTC)},
		{"2030-07-02 03:04:05", berlin, time.Date(2030, 7, 2, 1, 4, 5, 0, time.UTC)},
		{"@2030-01-02 03:04:05", plus5, time.Date(2030, 1, 1, 22, 4, 5, 0, time.UTC)},
		{"+0", time.UTC, wall},
		{"+30", time.UTC, wall.Add(30 * time.Second)},
		{"-30s", time.UTC, wall.Add(-30 * time.Second)},
		{"+5m", time.UTC, wall.Add(5 * time.Minute)},
		{"-2h", time.UTC, wall.Add(-2 * time.Hour)},
		{"+3d", time.UTC, wall.Add(72 * time.Hour)},
		{"-1y", time.UTC, wall.Add(-365 * 24 * time.Hour)},
		// An offset does not depend on the zone.
		{"+1d", berlin, wall.Add(24 * time.Hour)},
	}
	for _, tt := range tests {
		clock, err := parseFakeTime(tt.spec, tt.loc, func() time.Time { return wall })
		if err != nil {
			t.Errorf("parseFakeTime(%q, %v): %v", tt.spec, tt.loc, err)
			continue
		}
		if got := clock(); !got.Equal(tt.want) {
			t.Errorf("parseFakeTime(%q, %v) clock = %v, want %v", tt.spec, tt.loc, got, tt.want)
		}
	}
}

// The "@" form starts a running clock; the plain form stands still; the
// offset form follows the wall clock.
func TestFakeTimeRuns(t *testing.T) {
	wall := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return wall }
	clock := func(spec string) func() time.Time {
		t.Helper()
		c, err := parseFakeTime(spec, time.UTC, now)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	start, frozen, offset := clock("@2030-01-02 03:04:05"), clock("2030-01-02 03:04:05"), clock("-1h")
	wall = wall.Add(time.Minute)
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if got, want := start(), at.Add(time.Minute); !got.Equal(want) {
		t.Errorf("@ clock after a minute = %v, want %v", got, want)
	}
	if got := frozen(); !got.Equal(at) {
		t.Errorf("frozen clock after a minute = %v, want %v", got, at)
	}
	if got, want := offset(), wall.Add(-time.Hour); !got.Equal(want) {
		t.Errorf("offset clock after a minute = %v, want %v", got, want)
	}
}

func TestParseFakeTimeInvalid(t *testing.T) {
	for _, spec := range []string{
		"",
		"@",
		"+",
		"-",
		"+s",
		"5d",
		"++5",
		"+-5",
		"+1.5h",
		"+5w",
		"+5 d",
		"+5dd",
		"+ 5",
		"+0x10",
		"+106752d",              // beyond time.Duration
		"-300y",                 // beyond time.Duration
		"+99999999999999999999", // beyond int64
		"@2030-01-02",
		"@2030-01-02T03:04:05Z",
		"2030-01-02 03:04:05 x2", // libfaketime speed-ups are not supported
		"2030-13-02 03:04:05",
		"2030-02-30 03:04:05",
		"@2030-01-02 25:04:05",
		"@ 2030-01-02 03:04:05",
		"now",
	} {
		clock, err := parseFakeTime(spec, time.UTC, time.Now)
		if !errors.Is(err, errFakeTime) {
			t.Errorf("parseFakeTime(%q) error = %v, want errFakeTime", spec, err)
		}
		if clock != nil {
			t.Errorf("parseFakeTime(%q) returned a clock with an error", spec)
		}
	}
}

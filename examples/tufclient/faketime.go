package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// errFakeTime is wrapped by every FAKETIME parse error.
var errFakeTime = errors.New("invalid FAKETIME")

// fakeTimeLayout is the date and time format of FAKETIME's absolute forms.
const fakeTimeLayout = "2006-01-02 15:04:05"

// fakeTimeUnits are the unit suffixes of FAKETIME's relative form.
var fakeTimeUnits = map[byte]time.Duration{
	's': time.Second,
	'm': time.Minute,
	'h': time.Hour,
	'd': 24 * time.Hour,
	'y': 365 * 24 * time.Hour,
}

// parseFakeTime turns the value of FAKETIME into a clock, following the
// forms faketime(1) and libfaketime accept:
//
//   - "@YYYY-MM-DD hh:mm:ss": the clock starts at that time, in loc, and
//     runs on from there;
//   - "YYYY-MM-DD hh:mm:ss": the clock stands still at that time, in loc;
//   - "+N" or "-N", optionally followed by a unit s, m, h, d or y (365
//     days; seconds without a unit): the real time shifted by N units.
//
// now is the real clock. Anything else is an error wrapping errFakeTime.
func parseFakeTime(spec string, loc *time.Location, now func() time.Time) (func() time.Time, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s (want \"@YYYY-MM-DD hh:mm:ss\", \"YYYY-MM-DD hh:mm:ss\" or \"+N\"/\"-N\" with an optional unit s, m, h, d or y)", errFakeTime, spec, why)
	}
	switch {
	case spec == "":
		return nil, bad("empty")
	case spec[0] == '+' || spec[0] == '-':
		d, err := parseOffset(spec)
		if err != nil {
			return nil, bad(err.Error())
		}
		return func() time.Time { return now().Add(d) }, nil
	case spec[0] == '@':
		start, err := time.ParseInLocation(fakeTimeLayout, spec[1:], loc)
		if err != nil {
			return nil, bad("not a date and time")
		}
		// now().Sub(base) uses the monotonic clock, so the fake clock
		// runs steadily even if the wall clock is stepped.
		base := now()
		return func() time.Time { return start.Add(now().Sub(base)) }, nil
	default:
		at, err := time.ParseInLocation(fakeTimeLayout, spec, loc)
		if err != nil {
			return nil, bad("not a date and time")
		}
		return func() time.Time { return at }, nil
	}
}

// parseOffset parses "+N" or "-N" with an optional unit suffix.
func parseOffset(spec string) (time.Duration, error) {
	num, unit := spec, time.Second
	if u, ok := fakeTimeUnits[spec[len(spec)-1]]; ok {
		num, unit = spec[:len(spec)-1], u
	}
	// ParseInt accepts the sign; insist on at least one digit after it and
	// nothing but digits.
	if len(num) < 2 || strings.TrimLeft(num[1:], "0123456789") != "" {
		return 0, errors.New("not a whole number with an optional unit")
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/int64(unit) || n < math.MinInt64/int64(unit) {
		return 0, errors.New("offset out of range")
	}
	return time.Duration(n) * unit, nil
}

package main

import (
	"math"
	"time"
)

// The two astronomical events the Chinese calendar is built on, after Jean
// Meeus, Astronomical Algorithms (2nd ed., 1998): the instants of new moon
// (chapter 49) and the Sun's apparent longitude (chapter 25). Times are
// Julian Ephemeris Days (Terrestrial Time) until converted by toTime.

const (
	jdUnixEpoch = 2440587.5 // 1970-01-01T00:00:00Z
	tropicalYr  = 365.2422
)

// deltaT is TT − UT in seconds. It stayed near 69 s from 2015 on; being off
// by a few seconds moves nothing here, since main refuses instants that
// fall within minutes of a Beijing midnight.
const deltaT = 69.2

// toTime converts a Julian Ephemeris Day to UTC.
func toTime(jde float64) time.Time {
	secs := (jde-jdUnixEpoch)*86400 - deltaT
	whole := math.Floor(secs)
	return time.Unix(int64(whole), int64((secs-whole)*1e9)).UTC()
}

// toJDE converts a UTC instant to a Julian Ephemeris Day.
func toJDE(t time.Time) float64 {
	return jdUnixEpoch + (float64(t.UnixNano())/1e9+deltaT)/86400
}

func sin(deg float64) float64 { return math.Sin(deg * math.Pi / 180) }

// newMoon returns the JDE of new moon number k, counted from the new moon
// of 2000-01-06 (Meeus 49.1, with the periodic terms of table 49.A and the
// planetary arguments A1–A14; its error is well under a minute).
func newMoon(k float64) float64 {
	T := k / 1236.85
	T2, T3, T4 := T*T, T*T*T, T*T*T*T
	jde := 2451550.09766 + 29.530588861*k + 0.00015437*T2 - 0.000000150*T3 + 0.00000000073*T4
	E := 1 - 0.002516*T - 0.0000074*T2
	M := 2.5534 + 29.10535670*k - 0.0000014*T2 - 0.00000011*T3
	Mp := 201.5643 + 385.81693528*k + 0.0107582*T2 + 0.00001238*T3 - 0.000000058*T4
	F := 160.7108 + 390.67050284*k - 0.0016118*T2 - 0.00000227*T3 + 0.000000011*T4
	Om := 124.7746 - 1.56375588*k + 0.0020672*T2 + 0.00000215*T3

	jde += -0.40720*sin(Mp) +
		0.17241*E*sin(M) +
		0.01608*sin(2*Mp) +
		0.01039*sin(2*F) +
		0.00739*E*sin(Mp-M) -
		0.00514*E*sin(Mp+M) +
		0.00208*E*E*sin(2*M) -
		0.00111*sin(Mp-2*F) -
		0.00057*sin(Mp+2*F) +
		0.00056*E*sin(2*Mp+M) -
		0.00042*sin(3*Mp) +
		0.00042*E*sin(M+2*F) +
		0.00038*E*sin(M-2*F) -
		0.00024*E*sin(2*Mp-M) -
		0.00017*sin(Om) -
		0.00007*sin(Mp+2*M) +
		0.00004*sin(2*Mp-2*F) +
		0.00004*sin(3*M) +
		0.00003*sin(Mp+M-2*F) +
		0.00003*sin(2*Mp+2*F) -
		0.00003*sin(Mp+M+2*F) +
		0.00003*sin(Mp-M+2*F) -
		0.00002*sin(Mp-M-2*F) -
		0.00002*sin(3*Mp+M) +
		0.00002*sin(4*Mp)

	planetary := [14][3]float64{ // amplitude, argument at k = 0, rate per lunation
		{0.000325, 299.77, 0.107408},
		{0.000165, 251.88, 0.016321},
		{0.000164, 251.83, 26.651886},
		{0.000126, 349.42, 36.412478},
		{0.000110, 84.66, 18.206239},
		{0.000062, 141.74, 53.303771},
		{0.000060, 207.14, 2.453732},
		{0.000056, 154.84, 7.306860},
		{0.000047, 34.52, 27.261239},
		{0.000042, 207.19, 0.121824},
		{0.000040, 291.34, 1.844379},
		{0.000037, 161.72, 24.198154},
		{0.000035, 239.56, 25.513099},
		{0.000023, 331.55, 3.592518},
	}
	for i, p := range planetary {
		arg := p[1] + p[2]*k
		if i == 0 {
			arg -= 0.009173 * T2
		}
		jde += p[0] * sin(arg)
	}
	return jde
}

// sunLongitude returns the Sun's apparent geocentric longitude in degrees,
// in [0, 360), at jde (Meeus chapter 25, to about 0.01°: a quarter of an
// hour of the Sun's motion).
func sunLongitude(jde float64) float64 {
	T := (jde - 2451545) / 36525
	L0 := 280.46646 + 36000.76983*T + 0.0003032*T*T
	M := 357.52911 + 35999.05029*T - 0.0001537*T*T
	C := (1.914602-0.004817*T-0.000014*T*T)*sin(M) +
		(0.019993-0.000101*T)*sin(2*M) +
		0.000289*sin(3*M)
	omega := 125.04 - 1934.136*T
	lambda := L0 + C - 0.00569 - 0.00478*sin(omega)
	return math.Mod(math.Mod(lambda, 360)+360, 360)
}

// sunReaches returns the first JDE at or after from when the Sun's apparent
// longitude is lon degrees.
func sunReaches(lon, from float64) float64 {
	ahead := math.Mod(lon-sunLongitude(from)+720, 360)
	jde := from + ahead/360*tropicalYr
	for range 20 {
		diff := math.Mod(lon-sunLongitude(jde)+540, 360) - 180 // in (−180, 180]
		jde += diff / 360 * tropicalYr
		if math.Abs(diff) < 1e-9 {
			break
		}
	}
	return jde
}

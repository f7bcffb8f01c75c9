package detect

import (
	"errors"
	"math"
	"time"
)

// Times is a column of times for compact snapshots: seconds, nanoseconds
// and zone, as slices of integers (encoded much faster than times one by
// one). The zone keeps UTC and Local apart from fixed offsets; another
// named zone comes back as a fixed zone with the same offset.
type Times struct {
	Sec  []int64
	Nsec []int32 // nil while every time is a whole second
	Zone []int32 // offset in seconds, or zoneUTC, zoneLocal; nil while all are UTC

	lastOff int32 // a one-entry cache of At's fixed zones
	lastLoc *time.Location
}

const (
	zoneUTC   = math.MinInt32
	zoneLocal = math.MinInt32 + 1
)

// Append adds t.
func (ts *Times) Append(t time.Time) {
	n := len(ts.Sec)
	ts.Sec = append(ts.Sec, t.Unix())
	if ns := int32(t.Nanosecond()); ns != 0 || ts.Nsec != nil {
		if ts.Nsec == nil {
			ts.Nsec = make([]int32, n, cap(ts.Sec))
		}
		ts.Nsec = append(ts.Nsec, ns)
	}
	z := int32(zoneUTC)
	switch loc := t.Location(); loc {
	case time.UTC:
	case time.Local:
		z = zoneLocal
	default:
		_, off := t.Zone()
		z = int32(off)
	}
	if z != zoneUTC || ts.Zone != nil {
		if ts.Zone == nil {
			ts.Zone = make([]int32, n, cap(ts.Sec))
			for i := range ts.Zone {
				ts.Zone[i] = zoneUTC
			}
		}
		ts.Zone = append(ts.Zone, z)
	}
}

// Len returns the number of times.
func (ts *Times) Len() int { return len(ts.Sec) }

// Check tells whether the columns agree in length.
func (ts *Times) Check() error {
	if ts.Nsec != nil && len(ts.Nsec) != len(ts.Sec) || ts.Zone != nil && len(ts.Zone) != len(ts.Sec) {
		return errors.New("time column lengths differ")
	}
	return nil
}

// At returns the i-th time; Check must have passed.
func (ts *Times) At(i int) time.Time {
	var ns int64
	if ts.Nsec != nil {
		ns = int64(ts.Nsec[i])
	}
	t := time.Unix(ts.Sec[i], ns)
	z := int32(zoneUTC)
	if ts.Zone != nil {
		z = ts.Zone[i]
	}
	switch z {
	case zoneUTC:
		return t.UTC()
	case zoneLocal:
		return t.In(time.Local)
	}
	if ts.lastLoc == nil || ts.lastOff != z {
		ts.lastOff, ts.lastLoc = z, time.FixedZone("", int(z))
	}
	return t.In(ts.lastLoc)
}

package loggen

import (
	"bufio"
	"strconv"
	"time"
)

// Times inside the generator are microseconds since the Unix epoch.
const (
	usSec  int64 = 1_000_000
	usMin        = 60 * usSec
	usHour       = 60 * usMin
	usDay        = 24 * usHour
)

// pline is a log line waiting for its time to come. b holds everything after
// the timestamp and the host name ("postfix/qmgr[123]: ...").
type pline struct {
	t   int64
	seq uint64
	b   []byte
}

func (a *pline) less(b *pline) bool {
	if a.t != b.t {
		return a.t < b.t
	}
	return a.seq < b.seq
}

// lineHeap is a min-heap of pending lines ordered by time, then by the order
// in which they were emitted, so that the output is deterministic.
type lineHeap []pline

func (h *lineHeap) push(p pline) {
	*h = append(*h, p)
	s := *h
	i := len(s) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !s[i].less(&s[parent]) {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
}

func (h *lineHeap) pop() pline {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s[n] = pline{}
	s = s[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s[r].less(&s[l]) {
			m = r
		}
		if !s[m].less(&s[i]) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// sink turns pending lines into output bytes in time order.
type sink struct {
	w       *bufio.Writer
	format  Format
	host    string
	heap    lineHeap
	seq     uint64
	free    [][]byte
	pending int64 // bytes of pending lines (approximate, without timestamps)
	lines   int64
	bytes   int64
	out     []byte
	lastSec int64
	lastT   int64  // time of the last line written
	stamp   []byte // cached timestamp prefix for lastSec
	err     error
}

func (s *sink) buf() []byte {
	if n := len(s.free); n > 0 {
		b := s.free[n-1]
		s.free = s.free[:n-1]
		return b[:0]
	}
	return make([]byte, 0, 256)
}

// begin starts a line for program tag with process id pid (pid < 0: none).
func (s *sink) begin(tag string, pid int) []byte {
	b := s.buf()
	b = append(b, tag...)
	if pid >= 0 {
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(pid), 10)
		b = append(b, ']')
	}
	return append(b, ':', ' ')
}

// emit queues a finished line for time t.
func (s *sink) emit(t int64, b []byte) {
	s.seq++
	s.pending += int64(len(b))
	s.heap.push(pline{t: t, seq: s.seq, b: b})
}

// flush writes every pending line with a time before limit.
func (s *sink) flush(limit int64) {
	for len(s.heap) > 0 && s.heap[0].t < limit {
		p := s.heap.pop()
		s.pending -= int64(len(p.b))
		s.writeLine(p.t, p.b)
		if cap(p.b) <= 4096 {
			s.free = append(s.free, p.b)
		}
	}
}

func (s *sink) writeLine(t int64, b []byte) {
	o := s.out[:0]
	s.lastT = t
	sec := t / usSec
	if sec != s.lastSec || s.stamp == nil {
		s.lastSec = sec
		s.stamp = appendStamp(s.stamp[:0], s.format, sec)
	}
	o = append(o, s.stamp...)
	if s.format == FormatRFC3339 {
		o = append(o, '.')
		o = appendPad(o, t%usSec, 6)
		o = append(o, "+00:00"...)
	}
	o = append(o, ' ')
	o = append(o, s.host...)
	o = append(o, ' ')
	o = append(o, b...)
	o = append(o, '\n')
	s.out = o
	if s.err == nil {
		_, s.err = s.w.Write(o)
	}
	s.lines++
	s.bytes += int64(len(o))
}

var monthAbbr = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// appendStamp appends the time stamp of second sec (UTC) without fraction.
func appendStamp(b []byte, f Format, sec int64) []byte {
	tm := time.Unix(sec, 0).UTC()
	y, mo, d := tm.Date()
	h, mi, se := tm.Clock()
	if f == FormatRFC3339 {
		b = appendPad(b, int64(y), 4)
		b = append(b, '-')
		b = appendPad(b, int64(mo), 2)
		b = append(b, '-')
		b = appendPad(b, int64(d), 2)
		b = append(b, 'T')
	} else {
		b = append(b, monthAbbr[mo-1]...)
		b = append(b, ' ')
		if d < 10 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, int64(d), 10)
		b = append(b, ' ')
	}
	b = appendPad(b, int64(h), 2)
	b = append(b, ':')
	b = appendPad(b, int64(mi), 2)
	b = append(b, ':')
	return appendPad(b, int64(se), 2)
}

// appendPad appends v in decimal, zero padded to width digits.
func appendPad(b []byte, v int64, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for v > 0 || width > 0 {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	if i == len(tmp) {
		i--
		tmp[i] = '0'
	}
	return append(b, tmp[i:]...)
}

// appendDelay appends a duration in Postfix's delay= style: two significant
// digits for small values ("0.05", "1.6"), whole seconds from 10 s up.
func appendDelay(b []byte, us int64) []byte {
	if us < 0 {
		us = 0
	}
	switch {
	case us >= 10*usSec:
		return strconv.AppendInt(b, (us+usSec/2)/usSec, 10)
	case us >= usSec:
		tenths := (us + 50_000) / 100_000
		b = strconv.AppendInt(b, tenths/10, 10)
		if tenths%10 != 0 {
			b = append(b, '.', byte('0'+tenths%10))
		}
		return b
	default:
		hund := (us + 5_000) / 10_000
		if hund == 0 {
			return append(b, '0')
		}
		if hund >= 100 {
			return append(b, '1')
		}
		b = append(b, '0', '.', byte('0'+hund/10))
		if hund%10 != 0 {
			b = append(b, byte('0'+hund%10))
		}
		return b
	}
}

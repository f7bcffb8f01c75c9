package follow

import "bytes"

// assembler cuts a byte stream into lines. Complete lines inside a chunk
// are passed on as slices of that chunk; a line split across chunks is
// gathered in partial (reused) and passed on when its '\n' arrives. A line
// longer than max is cut to its first max bytes; the rest, up to the '\n',
// is skipped.
type assembler struct {
	partial []byte
	cut     bool // the line in partial reached max: the rest is skipped
	max     int
}

// emitFunc receives one line (without '\n'), whether it was cut, and the
// stream offset just after its '\n'.
type emitFunc func(data []byte, cut bool, end int64) error

// feed splits chunk, which starts at stream offset off.
func (a *assembler) feed(chunk []byte, off int64, emit emitFunc) error {
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			a.hold(chunk)
			return nil
		}
		end := off + int64(i) + 1
		var err error
		switch {
		case len(a.partial) > 0 || a.cut:
			a.hold(chunk[:i])
			err = emit(a.partial, a.cut, end)
			a.reset()
		case i > a.max:
			err = emit(chunk[:a.max], true, end)
		default:
			err = emit(chunk[:i], false, end)
		}
		if err != nil {
			return err
		}
		chunk = chunk[i+1:]
		off = end
	}
	return nil
}

// hold keeps b as (part of) an incomplete line, up to max bytes.
func (a *assembler) hold(b []byte) {
	room := a.max - len(a.partial)
	if len(b) > room {
		b = b[:room]
		a.cut = true
	}
	a.partial = append(a.partial, b...)
}

// pending tells whether an incomplete line is held.
func (a *assembler) pending() bool { return len(a.partial) > 0 || a.cut }

// reset forgets the incomplete line, if any. A buffer grown for a long line
// is let go, so that one long line does not pin its memory.
func (a *assembler) reset() {
	if cap(a.partial) > 1<<20 {
		a.partial = nil
	} else {
		a.partial = a.partial[:0]
	}
	a.cut = false
}

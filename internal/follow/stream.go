package follow

import (
	"bytes"
	"context"
	"io"
)

// streamSource reads a Reader.
type streamSource struct {
	f      *Follower
	r      Reader
	asm    assembler
	off    int64
	cursor Cursor // guarded by f.mu
}

// chunk is a piece of a stream handed to the Run goroutine; the reading
// goroutine waits for ack before it reuses data.
type chunk struct {
	src  *streamSource
	data []byte
	err  error // the stream's end (io.EOF or a read error), after data
	ack  chan struct{}
}

// read runs in its own goroutine until the stream ends or ctx does.
func (s *streamSource) read(ctx context.Context, out chan<- chunk) {
	buf := make([]byte, readSize)
	ack := make(chan struct{})
	for {
		n, err := s.r.R.Read(buf)
		if n == 0 && err == nil {
			continue
		}
		select {
		case out <- chunk{src: s, data: buf[:n], err: err, ack: ack}:
		case <-ctx.Done():
			return
		}
		<-ack
		if err != nil {
			return
		}
	}
}

// consume delivers the lines of c.
func (s *streamSource) consume(c chunk, fn func(Line) error) error {
	emit := func(data []byte, cut bool, end int64) error {
		l := Line{Path: s.r.Name, Data: data, Cut: cut, Cursor: Cursor{Path: s.r.Name, Offset: end}}
		if s.r.Journal {
			if jc := JournalCursor(data); jc != nil {
				l.Cursor.Journal = string(jc)
			} else {
				l.Cursor.Journal = s.cursor.Journal
			}
		}
		if cut {
			s.f.event(Event{Kind: EventLineCut, Path: s.r.Name, Bytes: int64(len(data))})
		}
		if err := fn(l); err != nil {
			return err
		}
		s.f.mu.Lock()
		s.cursor = l.Cursor
		s.f.stats.Lines++
		s.f.stats.Bytes += int64(len(data))
		s.f.mu.Unlock()
		return nil
	}
	off := s.off
	s.off += int64(len(c.data))
	if err := s.asm.feed(c.data, off, emit); err != nil {
		return err
	}
	if c.err != nil {
		if s.asm.pending() {
			s.f.event(Event{Kind: EventPartialDropped, Path: s.r.Name, Bytes: int64(len(s.asm.partial))})
			s.asm.reset()
		}
		var err error
		if c.err != io.EOF {
			err = c.err
		}
		s.f.event(Event{Kind: EventStreamEnd, Path: s.r.Name, Err: err})
	}
	return nil
}

// JournalCursor returns the value of the __CURSOR field of one line of
// journalctl -o json (or -o json-seq without its record separator), or nil.
// It does not parse the JSON: it finds the first "__CURSOR" key, which
// journalctl writes first, and takes the string after it (cursors hold no
// quotes or escapes). The result is a slice of line.
func JournalCursor(line []byte) []byte {
	const key = `"__CURSOR"`
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return nil
	}
	rest := line[i+len(key):]
	rest = bytes.TrimLeft(rest, " \t")
	if len(rest) == 0 || rest[0] != ':' {
		return nil
	}
	rest = bytes.TrimLeft(rest[1:], " \t")
	if len(rest) == 0 || rest[0] != '"' {
		return nil
	}
	rest = rest[1:]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return nil
	}
	v := rest[:j]
	if bytes.IndexByte(v, '\\') >= 0 {
		return nil
	}
	return v
}

package follow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// fileSource follows one configured path.
type fileSource struct {
	f    *Follower
	path string

	file   *os.File    // the file being read; nil while waiting
	name   string      // the name file was opened by (path or a sibling)
	info   fs.FileInfo // file's identity
	atPath bool        // file is the file at path (false: finishing a rotated file)
	queue  []string    // rotated siblings to read after file, before path
	gone   bool        // EventDeleted reported for the current file

	readOff  int64 // next byte to read
	fp       fingerprint
	lastSize int64
	lastMod  time.Time
	asm      assembler
	atStart  bool  // at the start of the file: NUL bytes are skipped
	nuls     int64 // NUL bytes skipped at the start of file
	drains   int   // polls since a replacement of a rotated file was seen
	restore  *Cursor
	started  bool   // a file has been opened once (FromEnd applies before)
	lastErr  string // the last open error reported, to report each once

	cursor Cursor // guarded by f.mu
	// readingInfo and readingFile are the file being read (its identity,
	// and the open file, nil once closed), for Backlog; guarded by f.mu.
	readingInfo fs.FileInfo
	readingFile *os.File
}

// fingerprint is the first bytes of a file and their hash.
type fingerprint struct {
	prefix []byte // up to FingerprintSize bytes
	sum    string // hex SHA-256 of prefix
}

func (p *fingerprint) set(b []byte) {
	p.prefix = append(p.prefix[:0], b...)
	h := sha256.Sum256(p.prefix)
	p.sum = hex.EncodeToString(h[:])
}

func (p *fingerprint) reset() { p.set(nil) }

// poll reads what is new and handles rotation, truncation and appearance.
func (s *fileSource) poll(ctx context.Context, fn func(Line) error) error {
	if s.file == nil && !s.openNext() {
		return nil
	}
	for {
		n, err := s.readNew(ctx, fn)
		if err != nil {
			return err
		}
		if s.atPath {
			s.checkPath()
			if s.atPath {
				return nil
			}
		}
		if !s.hasNext() {
			s.releaseDeleted(n)
			return nil
		}
		s.drains++
		if (n > 0 || s.asm.pending()) && s.drains <= s.f.cfg.RotateGrace {
			return nil
		}
		s.close()
		if !s.openNext() {
			return nil
		}
	}
}

// checkPath looks at the file at the path: gone or different means that
// the open file has been rotated or deleted.
func (s *fileSource) checkPath() {
	st, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !s.gone {
			s.gone = true
			s.f.event(Event{Kind: EventDeleted, Path: s.path})
		}
		s.atPath = false
	case err != nil:
		s.openError(err)
	case !os.SameFile(st, s.info):
		s.f.event(Event{Kind: EventRotated, Path: s.path})
		s.atPath = false
	}
}

// hasNext tells whether a file waits to be read after the current one.
func (s *fileSource) hasNext() bool {
	if len(s.queue) > 0 {
		return true
	}
	st, err := os.Stat(s.path)
	if err != nil {
		return false
	}
	if s.name == s.path && os.SameFile(st, s.info) {
		// Moved away and back.
		s.atPath, s.gone, s.drains = true, false, 0
		return false
	}
	return true
}

// releaseDeleted closes a deleted file that nothing replaces once it has
// been quiet for RotateGrace polls, so that its disk space is freed.
func (s *fileSource) releaseDeleted(n int64) {
	if n > 0 {
		s.drains = 0
		return
	}
	st, err := s.file.Stat()
	if err != nil {
		return
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || sys.Nlink > 0 {
		return // renamed, or the link count is unknown: keep reading
	}
	if s.drains++; s.drains > s.f.cfg.RotateGrace {
		s.close()
	}
}

// close closes the current file. An incomplete last line is dropped.
func (s *fileSource) close() {
	if s.file == nil {
		return
	}
	s.dropPartial(s.name)
	s.f.mu.Lock()
	s.readingFile = nil
	s.f.mu.Unlock()
	s.file.Close()
	s.file = nil
}

func (s *fileSource) dropPartial(name string) {
	if s.asm.pending() {
		s.f.event(Event{Kind: EventPartialDropped, Path: s.path, File: name, Bytes: int64(len(s.asm.partial))})
	}
	s.asm.reset()
}

// openNext opens the next file to read: the saved cursor's file at the
// start, then a queued sibling, then the path. It tells whether a file is
// open.
func (s *fileSource) openNext() bool {
	if s.restore != nil {
		return s.resume()
	}
	for len(s.queue) > 0 {
		name := s.queue[0]
		s.queue = s.queue[1:]
		f, err := s.f.cfg.Open(name)
		if err != nil {
			s.f.event(Event{Kind: EventGap, Path: s.path, File: name, Err: err})
			continue
		}
		if s.use(f, name, false); s.file != nil {
			return true
		}
	}
	f, err := s.openPath()
	if f == nil {
		if errors.Is(err, fs.ErrNotExist) {
			s.started = true // it will be new when it appears: read it from 0
		}
		return false
	}
	fromEnd := !s.started && s.f.cfg.FromEnd
	s.use(f, s.path, true)
	if err == nil && fromEnd && s.file != nil {
		s.seekEnd()
	}
	return s.file != nil
}

// openPath opens the path; a missing path is not reported, other errors
// are, once each.
func (s *fileSource) openPath() (*os.File, error) {
	f, err := s.f.cfg.Open(s.path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.openError(err)
		}
		return nil, err
	}
	return f, nil
}

func (s *fileSource) openError(err error) {
	if msg := err.Error(); msg != s.lastErr {
		s.lastErr = msg
		s.f.event(Event{Kind: EventOpenError, Path: s.path, Err: err})
	}
}

// use makes f (opened by name) the current file, read from 0.
func (s *fileSource) use(f *os.File, name string, atPath bool) {
	st, err := f.Stat()
	if err != nil {
		f.Close()
		s.openError(fmt.Errorf("stat %s: %w", name, err))
		return
	}
	s.file, s.name, s.info, s.atPath = f, name, st, atPath
	s.f.mu.Lock()
	s.readingInfo, s.readingFile = st, f
	s.f.mu.Unlock()
	s.gone, s.drains, s.lastErr, s.started = false, 0, "", true
	s.asm.reset()
	s.f.event(Event{Kind: EventOpened, Path: s.path, File: name})
	s.restart()
}

// restart reads the current file again from 0.
func (s *fileSource) restart() {
	s.readOff, s.atStart, s.nuls = 0, true, 0
	s.lastSize, s.lastMod = -1, time.Time{}
	s.fp.reset()
	s.extendFP()
	s.setCursor(0)
}

func (s *fileSource) setCursor(off int64) {
	s.f.mu.Lock()
	s.cursor = Cursor{Path: s.path, Fingerprint: s.fp.sum, FingerprintLen: int64(len(s.fp.prefix)), Offset: off}
	s.f.mu.Unlock()
}

// extendFP reads the file's first bytes into the fingerprint. It tells
// false if they no longer start with the fingerprint's bytes.
func (s *fileSource) extendFP() bool {
	var b [FingerprintSize]byte
	n, err := s.file.ReadAt(b[:], 0)
	if err != nil && err != io.EOF {
		return true // reported by the read that follows
	}
	if n < len(s.fp.prefix) || !bytes.Equal(b[:len(s.fp.prefix)], s.fp.prefix) {
		return false
	}
	if n > len(s.fp.prefix) {
		s.fp.set(b[:n])
	}
	return true
}

// seekEnd moves to the start of the last line of the file (the end, when
// the file ends with '\n'), so that no half line is delivered.
func (s *fileSource) seekEnd() {
	st, err := s.file.Stat()
	if err != nil {
		return
	}
	end := st.Size()
	buf := make([]byte, readSize)
	for pos := end; pos > 0; {
		n := int64(len(buf))
		if pos < n {
			n = pos
		}
		pos -= n
		if _, err := s.file.ReadAt(buf[:n], pos); err != nil && err != io.EOF {
			return
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			s.readOff = pos + int64(i) + 1
			break
		}
	}
	s.atStart = s.readOff == 0
	s.extendFP()
	s.setCursor(s.readOff)
}

// readNew checks the current file for truncation or replaced content, then
// reads it to its end. It returns the bytes read; an error only from fn or
// ctx.
func (s *fileSource) readNew(ctx context.Context, fn func(Line) error) (int64, error) {
	st, err := s.file.Stat()
	if err != nil {
		s.openError(fmt.Errorf("stat %s: %w", s.name, err))
		return 0, nil
	}
	switch {
	case st.Size() < s.readOff:
		s.dropPartial(s.name)
		s.f.event(Event{Kind: EventTruncated, Path: s.path, File: s.name, Bytes: s.readOff - st.Size()})
		s.restart()
	case st.Size() != s.lastSize || !st.ModTime().Equal(s.lastMod) || len(s.fp.prefix) < FingerprintSize:
		if !s.extendFP() {
			s.dropPartial(s.name)
			s.f.event(Event{Kind: EventReplaced, Path: s.path, File: s.name})
			s.restart()
		}
	}
	s.lastSize, s.lastMod = st.Size(), st.ModTime()

	emit := func(data []byte, cut bool, end int64) error {
		if int64(len(s.fp.prefix)) < min(end, FingerprintSize) {
			s.extendFP()
		}
		l := Line{Path: s.path, Data: data, Cut: cut, Cursor: Cursor{
			Path: s.path, Fingerprint: s.fp.sum, FingerprintLen: int64(len(s.fp.prefix)), Offset: end,
		}}
		if cut {
			s.f.event(Event{Kind: EventLineCut, Path: s.path, File: s.name, Bytes: int64(len(data))})
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

	var total int64
	buf := s.f.buf
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := s.file.ReadAt(buf, s.readOff)
		chunk, off := buf[:n], s.readOff
		s.readOff += int64(n)
		total += int64(n)
		if s.atStart && n > 0 {
			k := 0
			for k < len(chunk) && chunk[k] == 0 {
				k++
			}
			s.nuls += int64(k)
			chunk, off = chunk[k:], off+int64(k)
			if len(chunk) > 0 {
				s.atStart = false
				if s.nuls > 0 {
					s.f.event(Event{Kind: EventNULSkipped, Path: s.path, File: s.name, Bytes: s.nuls})
				}
			}
		}
		if ferr := s.asm.feed(chunk, off, emit); ferr != nil {
			return total, ferr
		}
		if err != nil {
			if err != io.EOF {
				s.openError(fmt.Errorf("read %s: %w", s.name, err))
			}
			return total, nil
		}
		if n == 0 {
			return total, nil
		}
	}
}

// resume finds the file of the saved cursor and starts there.
func (s *fileSource) resume() bool {
	c := s.restore
	if c.Fingerprint == "" {
		// Saved before the file existed: all of it is new.
		s.restore = nil
		f, _ := s.openPath()
		if f == nil {
			return false
		}
		s.use(f, s.path, true)
		return s.file != nil
	}
	pf, err := s.openPath()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false // retried at the next poll
	}
	if pf != nil && matches(pf, c) {
		s.restore = nil
		s.resumeIn(pf, s.path, true, c)
		return s.file != nil
	}
	sibs := siblings(s.path)
	for i, name := range sibs {
		f, err := s.f.cfg.Open(name)
		if err != nil {
			continue
		}
		if !matches(f, c) {
			f.Close()
			continue
		}
		if pf != nil {
			pf.Close()
		}
		s.restore = nil
		s.queue = sibs[i+1:]
		s.resumeIn(f, name, false, c)
		return s.file != nil
	}
	s.restore = nil
	s.f.event(Event{Kind: EventGap, Path: s.path, Err: fmt.Errorf("no file at %s or rotated beside it has fingerprint %.12s over %d bytes and %d bytes", s.path, c.Fingerprint, c.FingerprintLen, c.Offset)})
	if pf == nil {
		s.started = true // a file that appears later is read from 0
		return false
	}
	s.use(pf, s.path, true)
	if s.file != nil && s.f.cfg.FromEnd {
		s.seekEnd()
	}
	return s.file != nil
}

func (s *fileSource) resumeIn(f *os.File, name string, atPath bool, c *Cursor) {
	s.use(f, name, atPath)
	if s.file == nil {
		return
	}
	s.readOff = c.Offset
	s.atStart = c.Offset == 0
	s.setCursor(c.Offset)
	s.f.event(Event{Kind: EventResumed, Path: s.path, File: name, Bytes: c.Offset})
}

// matches tells whether f has c's fingerprint and is at least c.Offset long.
func matches(f *os.File, c *Cursor) bool {
	st, err := f.Stat()
	switch {
	case err != nil, c.Offset < 0, c.FingerprintLen < 0, c.FingerprintLen > FingerprintSize,
		c.FingerprintLen < min(c.Offset, FingerprintSize), // not written by this package
		st.Size() < max(c.Offset, c.FingerprintLen):
		return false
	}
	b := make([]byte, c.FingerprintLen)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return false
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]) == c.Fingerprint
}

// compressed are the extensions of rotated files that cannot be resumed in.
var compressed = []string{".gz", ".xz", ".zst", ".zstd", ".bz2", ".z", ".lz4", ".zip"}

// siblings lists the uncompressed rotated files of path (path.N,
// path-DATE...), oldest first: by modification time, then higher number or
// lower name first.
func siblings(path string) []string {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	type sib struct {
		name string
		num  int // -1 for a date suffix
		mod  time.Time
	}
	var out []sib
	for _, e := range ents {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, base)
		if !ok || len(rest) < 2 || !e.Type().IsRegular() {
			continue
		}
		low := strings.ToLower(rest)
		if slices.ContainsFunc(compressed, func(x string) bool { return strings.HasSuffix(low, x) }) {
			continue
		}
		num := -1
		switch {
		case rest[0] == '.':
			n, err := strconv.Atoi(rest[1:])
			if err != nil || n < 0 {
				continue
			}
			num = n
		case rest[0] == '-' && rest[1] >= '0' && rest[1] <= '9':
		default:
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, sib{filepath.Join(dir, name), num, info.ModTime()})
	}
	slices.SortStableFunc(out, func(a, b sib) int {
		if c := a.mod.Compare(b.mod); c != 0 {
			return c
		}
		if a.num != b.num {
			return b.num - a.num
		}
		return strings.Compare(a.name, b.name)
	})
	names := make([]string, len(out))
	for i, x := range out {
		names[i] = x.name
	}
	return names
}

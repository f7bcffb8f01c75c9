package logsrc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

var errStream = errors.New("not a regular file (standard input or a pipe is read once, as a stream)")

// Head returns up to max bytes of the decompressed beginning of f, with
// leading NUL bytes stripped. The data may end in the middle of a line. A
// file that fails to decompress part way returns what decoded and the error.
// Head fails for pipes and other streams; standard input redirected from a
// regular file is read from where the stream starts, without moving it.
func (s *Set) Head(f *File, max int) ([]byte, error) {
	if max <= 0 {
		return nil, nil
	}
	r, closeFn, err := s.openLocal(f)
	if err != nil {
		return nil, fmt.Errorf("head of %s: %w", displayName(f.Name), err)
	}
	defer closeFn()
	// ReadAll grows its buffer: a big max costs nothing for a small file.
	buf, err := io.ReadAll(io.LimitReader(r, int64(max)))
	buf = bytes.TrimLeft(buf, "\x00")
	if err != nil {
		return buf, fmt.Errorf("head of %s: %w", displayName(f.Name), err)
	}
	return buf, nil
}

// Tail returns up to max bytes of the decompressed end of f, starting at a
// line boundary. A plain file is read from near its end; a compressed one is
// decompressed whole, keeping its last max bytes. A file that fails to
// decompress part way returns the end of what decoded and the error. Tail
// fails for pipes and other streams, as Head does.
func (s *Set) Tail(f *File, max int) ([]byte, error) {
	return s.TailContext(context.Background(), f, max)
}

// TailContext is Tail, stopped with ctx's error when ctx is done: the tail
// of a compressed file is found by decompressing it whole, which can take
// seconds.
func (s *Set) TailContext(ctx context.Context, f *File, max int) ([]byte, error) {
	if max <= 0 {
		return nil, nil
	}
	sec, closeFn, err := section(f)
	if err != nil {
		return nil, fmt.Errorf("tail of %s: %w", displayName(f.Name), err)
	}
	defer closeFn()
	var magic [sniffLen]byte
	m, _ := sec.ReadAt(magic[:], 0)
	if format := detect(magic[:m]); format != None {
		zr, closeZ, err := decoder(sec, format, s.xzPath())
		if err != nil {
			return nil, fmt.Errorf("tail of %s: %w", displayName(f.Name), err)
		}
		defer closeZ()
		// One byte more than asked tells whether the window starts a line.
		buf, err := lastBytes(ctx, zr, max+1)
		buf = trimToLine(buf, len(buf) > max)
		if err != nil {
			return buf, fmt.Errorf("tail of %s: %w", displayName(f.Name), err)
		}
		return buf, nil
	}
	size := sec.Size()
	off := max64(0, size-int64(max)-1)
	buf := make([]byte, min64(size, int64(max)+1))
	n, err := sec.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("tail of %s: %w", displayName(f.Name), err)
	}
	return trimToLine(buf[:n], n > max), nil
}

// section gives random access to a regular file's bytes: a named file is
// opened again; standard input redirected from a file is read with pread
// from the offset its stream started at, so the stream is left where it is.
func section(f *File) (*io.SectionReader, func(), error) {
	if f.isStdin {
		if f.ra == nil {
			return nil, nil, errStream
		}
		return io.NewSectionReader(f.ra, f.raOff, max64(0, f.Size-f.raOff)), func() {}, nil
	}
	fh, err := os.Open(f.Name)
	if err != nil {
		return nil, nil, err
	}
	info, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, nil, err
	}
	return io.NewSectionReader(fh, 0, info.Size()), func() { fh.Close() }, nil
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// trimToLine drops the partial line at the start of b when b holds one byte
// from before the window asked for: it and the rest of the line it belongs to
// go (if it is '\n', only it goes). Without a newline b is the end of one long
// line, and nothing of it is returned.
func trimToLine(b []byte, cut bool) []byte {
	if !cut {
		return bytes.TrimLeft(b, "\x00")
	}
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b[:0]
	}
	return b[i+1:]
}

// lastBytes reads r to the end and returns its last max bytes. Its buffer
// grows up to 2*max bytes, then slides, so each byte is copied at most twice
// and a big max costs nothing for a small input. It stops with ctx's error
// when ctx is done.
func lastBytes(ctx context.Context, r io.Reader, max int) ([]byte, error) {
	buf := make([]byte, min(2*max, 256<<10))
	n, zero := 0, 0
	for {
		if n == len(buf) {
			if len(buf) < 2*max {
				bigger := make([]byte, min(2*len(buf), 2*max))
				copy(bigger, buf[:n])
				buf = bigger
			} else {
				copy(buf, buf[n-max:n])
				n = max
			}
		}
		m, err := r.Read(buf[n:])
		n += m
		if m == 0 && err == nil {
			if zero++; zero > 100 {
				err = errNoProgress
			}
		} else {
			zero = 0
		}
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			if n > max {
				return buf[n-max : n], err
			}
			return buf[:n], err
		}
	}
}

// openLocal opens a regular file and its decompressor.
func (s *Set) openLocal(f *File) (io.Reader, func(), error) {
	sec, closeFn, err := section(f)
	if err != nil {
		return nil, nil, err
	}
	var magic [sniffLen]byte
	m, _ := sec.ReadAt(magic[:], 0)
	zr, closeZ, err := decoder(sec, detect(magic[:m]), s.xzPath())
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	return zr, func() { closeZ(); closeFn() }, nil
}

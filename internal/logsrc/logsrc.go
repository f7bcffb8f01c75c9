// Package logsrc is the input layer of saslguard scan: it turns command-line
// inputs (files, globs, rotated sets, compressed files, standard input) into
// an ordered stream of chunks of whole lines, oldest file first.
//
// Reading is built for speed: big reads into recycled buffers, no per-line
// work on the hot path, and the next files read and decompressed in other
// goroutines while one is delivered, with bounded memory: at most
// (Decoders*(ReadAhead+4) + MaxInFlight) chunk buffers, plus the bigger
// buffers of lines longer than ChunkSize.
//
// # Inputs
//
// Open takes paths, glob patterns (a pattern that matches nothing is an
// error; an existing file whose name holds glob characters is taken as is)
// and "-" for standard input. The same file named twice (or through a link)
// is read once. Compression (gzip, also multi-member; zstd; xz; bzip2) is
// recognised by the first bytes of the content, never by the name. Pipes and
// FIFOs (bash's <(zcat x.gz)) are read as streams, like standard input.
//
// # Order
//
// Files are grouped by base name: the name without a compression extension
// (.gz .xz .zst .zstd .bz2 .z .lz4) and without a rotation suffix, either a
// number (mail.log.1, mail.log.2.gz) or a dateext date (mail.log-20261120,
// mail.log-2026112013, mail.log-2026-11-20, mail.log.20261120). Within a
// group the highest number comes first, dates go in ascending order, and the
// unsuffixed live file comes last; anything else (a number against a date)
// goes by mtime, then name. The groups are then merged by the mtime of their
// next file (then name). Streams (standard input, pipes, FIFOs) come last,
// in argument order.
//
// # Lines
//
// Chunks hold whole lines, CR kept. A line longer than ChunkSize is
// delivered whole in a bigger chunk; one longer than MaxLine is cut to
// MaxLine bytes plus '\n' and counted. NUL bytes at the start of a file (the
// hole copytruncate leaves when the writer does not append) are dropped and
// counted.
//
// # Copytruncate overlap
//
// When the first lines of a file repeat the last lines of the previous file
// of the same group (the run starts at the new file's first line and ends
// exactly at the old file's last line), they are skipped and counted. The
// last OverlapLines lines of the old file (from its last two chunks) and the
// new file's first chunk are compared, so an overlap longer than that is not
// found; lines repeated inside one file are never touched.
//
// # Errors
//
// A file that cannot be opened, read or decompressed is read up to the
// problem, which goes to Stats().Errors (with the file name), and reading
// goes on with the next file.
package logsrc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// File is one input file.
type File struct {
	Name        string    // path as expanded, or "-" for standard input
	ModTime     time.Time // from stat; for stdin the fstat mtime (may be zero)
	Size        int64     // on-disk size (compressed size when compressed); -1 if unknown
	Compression string    // "", "gzip", "xz", "zstd", "bzip2": detected by content (magic bytes), never by name

	rot     rotation
	isStdin bool          // standard input or another non-seekable stream (a pipe, a FIFO)
	ra      io.ReaderAt   // a stream redirected from a regular file, for Head and Tail
	raOff   int64         // where in ra the stream started
	stream  *bufio.Reader // the stream, already sniffed; nil for regular files
	closer  io.Closer     // closes the stream's file, if any
	info    fs.FileInfo   // stat of a regular file, to spot duplicates
}

// Seekable reports whether f is a regular file that Head and Tail can read.
func (f *File) Seekable() bool { return !f.isStdin }

// Options tune Open and Read. The zero value gives the defaults.
type Options struct {
	// ChunkSize is the usual size of a chunk (default DefaultChunkSize). A
	// longer line is delivered whole in a bigger chunk.
	ChunkSize int
	// MaxInFlight bounds the chunks delivered but not yet released (default
	// 16): Read blocks until the consumer releases one.
	MaxInFlight int
	// MaxLine caps a line's length (default 16 MiB); longer lines are cut to
	// MaxLine bytes, end with '\n', and are counted in Stats.OverlongLines.
	// A MaxLine below ChunkSize is taken as ChunkSize.
	MaxLine int
	// Decoders is how many files are read and decompressed at once: the one
	// being delivered and the next Decoders-1 (default GOMAXPROCS, at least
	// 2, at most 4).
	Decoders int
	// ReadAhead is how many chunks of each compressed file may wait, decoded,
	// for the consumer (default 16; 2 for plain files, whose reading is a
	// copy from the page cache). More lets the next files' decoding run
	// further ahead while one file is delivered, at ChunkSize bytes a chunk.
	ReadAhead int
	// OverlapLines is how many lines at the end of each file are remembered
	// to find copytruncate duplicates at the start of the next rotation
	// (default 4096; negative disables the check).
	OverlapLines int
	// Stdin is read for the argument "-" (default os.Stdin).
	Stdin io.Reader
	// BuiltinXZ decodes xz with the Go decoder even when the xz program is
	// found in PATH (by default xz data is piped through "xz -dc", which
	// is about four times as fast).
	BuiltinXZ bool
	// Logger receives per-file problems (default: discard).
	Logger *slog.Logger
}

// Defaults for Options.
const (
	DefaultChunkSize    = 1 << 20
	DefaultMaxInFlight  = 16
	DefaultMaxLine      = 16 << 20
	DefaultReadAhead    = 16
	DefaultOverlapLines = 4096
)

func (o *Options) setDefaults() {
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.ChunkSize < 64 {
		o.ChunkSize = 64
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.MaxLine <= 0 {
		o.MaxLine = DefaultMaxLine
	}
	if o.Decoders <= 0 {
		o.Decoders = min(max(2, runtime.GOMAXPROCS(0)), 4)
	}
	if o.ReadAhead <= 0 {
		o.ReadAhead = DefaultReadAhead
	}
	if o.OverlapLines == 0 {
		o.OverlapLines = DefaultOverlapLines
	}
	if o.Stdin == nil {
		o.Stdin = os.Stdin
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Set is an ordered set of input files.
type Set struct {
	opts  Options
	files []*File
	pool  *bufPool
	read  atomic.Bool // Read was called

	bytes, compressed, input, chunks, nuls, overlong, dups atomic.Int64
	filesDone                                              atomic.Int64
	errMu                                                  sync.Mutex
	errs                                                   []FileError
}

// Stats counts what Read did so far. It is safe to call during Read.
type Stats struct {
	Files           int   // files finished (read to the end or given up)
	Bytes           int64 // decompressed bytes read (before NUL stripping and overlap skipping)
	CompressedBytes int64 // bytes read from compressed files, as stored
	InputBytes      int64 // bytes read from disk or standard input, comparable to TotalSize
	Chunks          int64 // chunks delivered
	NULBytes        int64 // leading NUL bytes stripped (copytruncate holes)
	OverlongLines   int64 // lines cut to MaxLine
	DuplicateLines  int64 // copytruncate overlap lines skipped
	Errors          []FileError
}

// FileError is a problem with one file that did not stop Read: the file was
// read up to the error and Read went on with the next file.
type FileError struct {
	File string
	Err  error
}

func (e FileError) Error() string { return fmt.Sprintf("read %s: %v", e.File, e.Err) }
func (e FileError) Unwrap() error { return e.Err }

// Open expands globs, stats and sniffs each file, and orders the set oldest
// first. See the package documentation for the ordering rules.
func Open(args []string, opts Options) (set *Set, err error) {
	opts.setDefaults()
	s := &Set{opts: opts, pool: newBufPool(opts.ChunkSize)}
	defer func() {
		if err != nil {
			s.Close() // the streams opened so far
		}
	}()
	seen := map[string]bool{}
	var files []*File
	stdin := false
	add := func(path string, fromGlob bool) error {
		clean := filepath.Clean(path)
		if seen[clean] {
			return nil
		}
		f, err := openFile(path)
		if err != nil {
			if fromGlob && errors.Is(err, errIsDir) {
				return nil
			}
			return err
		}
		seen[clean] = true
		for _, g := range files {
			if g.info != nil && f.info != nil && os.SameFile(g.info, f.info) {
				return nil // the same file under another name
			}
		}
		files = append(files, f)
		s.files = files
		return nil
	}
	for _, arg := range args {
		if arg == "-" {
			if stdin {
				return nil, errors.New("standard input (-) given more than once")
			}
			stdin = true
			f, err := openStream("-", opts.Stdin)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
			s.files = files
			continue
		}
		if arg == "" {
			return nil, errors.New("empty file name")
		}
		if hasMeta(arg) {
			if _, err := os.Lstat(arg); err != nil {
				matches, err := filepath.Glob(arg)
				if err != nil {
					return nil, fmt.Errorf("pattern %s: %w", arg, err)
				}
				if len(matches) == 0 {
					return nil, fmt.Errorf("pattern %s: no files match", arg)
				}
				n := len(files)
				for _, m := range matches {
					if err := add(m, true); err != nil {
						return nil, err
					}
				}
				if len(files) == n && !anySeen(seen, matches) {
					return nil, fmt.Errorf("pattern %s: matches only directories", arg)
				}
				continue
			}
		}
		if err := add(arg, false); err != nil {
			return nil, err
		}
	}
	s.files = order(files)
	return s, nil
}

func anySeen(seen map[string]bool, paths []string) bool {
	for _, p := range paths {
		if seen[filepath.Clean(p)] {
			return true
		}
	}
	return false
}

func hasMeta(p string) bool {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '*', '?', '[', '\\':
			return true
		}
	}
	return false
}

var errIsDir = errors.New("is a directory")

// openFile stats and sniffs path. A regular file is closed again (Read opens
// it when its turn comes, so that a big set does not hold many descriptors);
// anything else (a pipe, a FIFO, /dev/stdin) is a stream and stays open.
func openFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err // "open PATH: no such file or directory"
	}
	info, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	if info.IsDir() {
		fh.Close()
		return nil, fmt.Errorf("open %s: %w", path, errIsDir)
	}
	if !info.Mode().IsRegular() {
		f, err := openStream(path, fh)
		if err != nil {
			fh.Close()
			return nil, err
		}
		f.ModTime = info.ModTime()
		return f, nil
	}
	defer fh.Close()
	var magic [sniffLen]byte
	n, err := io.ReadFull(fh, magic[:])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &File{
		Name:        path,
		ModTime:     info.ModTime(),
		Size:        info.Size(),
		Compression: detect(magic[:n]),
		rot:         parseRotation(path),
		info:        info,
	}, nil
}

// openStream wraps a non-seekable input and sniffs its first bytes.
func openStream(name string, r io.Reader) (*File, error) {
	f := &File{Name: name, Size: -1, isStdin: true, rot: rotation{group: name, num: -1}}
	if sf, ok := r.(*os.File); ok {
		if info, err := sf.Stat(); err == nil {
			f.ModTime = info.ModTime()
			if info.Mode().IsRegular() {
				f.Size = info.Size()
				// redirected from a file: Head and Tail may pread it
				if off, err := sf.Seek(0, io.SeekCurrent); err == nil && off <= f.Size {
					f.ra, f.raOff = sf, off
				}
			}
		}
		if name != "-" {
			f.closer = sf
		}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(sniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s: %w", displayName(name), err)
	}
	f.Compression = detect(magic)
	f.stream = br
	return f, nil
}

func displayName(name string) string {
	if name == "-" {
		return "standard input"
	}
	return name
}

// Files returns the files in reading order (oldest first).
func (s *Set) Files() []*File { return append([]*File(nil), s.files...) }

// TotalSize is the sum of the files' sizes, or -1 when one is unknown.
func (s *Set) TotalSize() int64 {
	var n int64
	for _, f := range s.files {
		if f.Size < 0 {
			return -1
		}
		n += f.Size
	}
	return n
}

// Close releases the streams Open left open (pipes and FIFOs named on the
// command line). Read closes each as it finishes it; Close is for a set that
// is never read.
func (s *Set) Close() error {
	var errs []error
	for _, f := range s.files {
		if f.closer != nil {
			errs = append(errs, f.closer.Close())
			f.closer = nil
		}
	}
	return errors.Join(errs...)
}

// Groups splits the set into one set per group of files that continue one
// another (a rotated set: one directory and base name; standard input
// alone), each in reading order, groups in the order of their first file.
// Read side by side, groups let a reader merge by time logs written at the
// same time (mail.log and dovecot.log, two servers' logs). They share s's
// buffer pool and in-flight budget (at least 2 chunks each); each has its
// own decoders. Read either s or its groups,
// not both; Close s. SumStats adds up the groups' counters.
func (s *Set) Groups() []*Set {
	var out []*Set
	idx := map[string]int{}
	for _, f := range s.files {
		key := "f:" + f.rot.group
		if f.isStdin {
			key = "s:" + f.Name
		}
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, &Set{opts: s.opts, pool: s.pool})
		}
		out[i].files = append(out[i].files, f)
	}
	for _, g := range out {
		g.opts.MaxInFlight = max(2, s.opts.MaxInFlight/len(out))
	}
	return out
}

// SumStats adds up the counters of several sets (Groups).
func SumStats(sets ...*Set) Stats {
	var t Stats
	for _, s := range sets {
		st := s.Stats()
		t.Files += st.Files
		t.Bytes += st.Bytes
		t.CompressedBytes += st.CompressedBytes
		t.InputBytes += st.InputBytes
		t.Chunks += st.Chunks
		t.NULBytes += st.NULBytes
		t.OverlongLines += st.OverlongLines
		t.DuplicateLines += st.DuplicateLines
		t.Errors = append(t.Errors, st.Errors...)
	}
	return t
}

// Stats returns the counters so far.
func (s *Set) Stats() Stats {
	s.errMu.Lock()
	errs := append([]FileError(nil), s.errs...)
	s.errMu.Unlock()
	return Stats{
		Files:           int(s.filesDone.Load()),
		Bytes:           s.bytes.Load(),
		CompressedBytes: s.compressed.Load(),
		InputBytes:      s.input.Load(),
		Chunks:          s.chunks.Load(),
		NULBytes:        s.nuls.Load(),
		OverlongLines:   s.overlong.Load(),
		DuplicateLines:  s.dups.Load(),
		Errors:          errs,
	}
}

func (s *Set) fileError(f *File, err error) {
	s.errMu.Lock()
	s.errs = append(s.errs, FileError{File: displayName(f.Name), Err: err})
	s.errMu.Unlock()
	s.opts.Logger.Warn("input file error", slog.String("file", f.Name), slog.Any("err", err))
}

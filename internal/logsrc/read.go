package logsrc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// Chunk is a run of whole lines from one file. Data holds complete lines,
// each ending in '\n', except possibly the final line of a file that has no
// trailing newline (then Data ends without '\n' and the next chunk starts a
// new file). CR is kept. Data is never empty.
type Chunk struct {
	File  *File
	Index int   // index of File in Files()
	Seq   int64 // 0, 1, 2... across the whole set, in delivery order
	Data  []byte

	buf      []byte
	pool     *bufPool
	sem      chan struct{} // in-flight token taken for delivery; nil if never delivered
	released atomic.Bool
}

// Release returns the chunk's buffer to the pool. Data must not be used
// afterwards. Calls after the first do nothing.
func (c *Chunk) Release() {
	if c == nil || !c.released.CompareAndSwap(false, true) {
		return
	}
	c.Data = nil
	c.pool.put(c.buf)
	c.buf = nil
	if c.sem != nil {
		<-c.sem
	}
}

// bufPool recycles chunk buffers of the usual size. Bigger buffers (made for
// long lines) are left to the garbage collector.
type bufPool struct {
	size int
	mu   sync.Mutex
	free [][]byte
}

const maxFreeBufs = 64

func newBufPool(size int) *bufPool { return &bufPool{size: size} }

func (p *bufPool) get() []byte {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return b
	}
	p.mu.Unlock()
	return make([]byte, p.size)
}

// getCap returns a buffer that can hold at least n bytes.
func (p *bufPool) getCap(n int) []byte {
	if n <= p.size {
		return p.get()
	}
	return make([]byte, n)
}

func (p *bufPool) put(b []byte) {
	if cap(b) != p.size {
		return
	}
	p.mu.Lock()
	if len(p.free) < maxFreeBufs {
		p.free = append(p.free, b[:p.size])
	}
	p.mu.Unlock()
}

// plainReadAhead bounds the read-ahead of an uncompressed file: reading it is
// a copy from the page cache, far faster than any consumer.
const plainReadAhead = 2

// job is one file being read by its producer goroutine.
type job struct {
	file  *File
	index int
	ch    chan *Chunk
	// needTail asks for tail: a later file of the same group follows.
	needTail bool
	tail     []uint64 // hashes of the file's last lines, oldest first; set before ch is closed
}

// Read delivers every chunk of every file, in order (files oldest first,
// chunks in file order), calling fn sequentially from one goroutine. fn owns
// the chunk it is given and must Release it, now or later from any goroutine;
// Read blocks while MaxInFlight chunks are unreleased. An error from fn stops
// Read and is returned; so does ctx's cancellation. A file that cannot be
// opened, read or decompressed is read up to the problem, which is recorded
// in Stats().Errors, and Read goes on with the next file. Read can be called
// once per Set. fn must not wait for a later chunk before releasing
// earlier ones once MaxInFlight are out: that would wait forever. When Read
// stops early, a goroutine blocked reading standard
// input (or another stream) is left to finish when that input ends.
func (s *Set) Read(ctx context.Context, fn func(*Chunk) error) error {
	if !s.read.CompareAndSwap(false, true) {
		return errors.New("read called twice on one set")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// lastOfGroup[i]: no later file shares file i's group, so its tail is
	// not needed for the overlap check.
	lastOfGroup := make([]bool, len(s.files))
	seen := map[string]bool{}
	for i := len(s.files) - 1; i >= 0; i-- {
		g := s.files[i].rot.group
		lastOfGroup[i] = !seen[g] || s.files[i].isStdin
		seen[g] = true
	}
	jobs := make([]*job, len(s.files))
	started := 0
	var wg sync.WaitGroup
	startUpTo := func(k int) {
		for ; started < len(jobs) && started < k; started++ {
			f := s.files[started]
			ahead := s.opts.ReadAhead
			if f.Compression == None {
				// Reading ahead pays only where decoding costs CPU.
				ahead = min(ahead, plainReadAhead)
			}
			j := &job{file: f, index: started, ch: make(chan *Chunk, ahead),
				needTail: !lastOfGroup[started] && s.opts.OverlapLines > 0}
			jobs[started] = j
			if j.file.isStdin {
				// A stream's read cannot be interrupted: do not wait for it.
				go s.produce(ctx, j)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.produce(ctx, j)
			}()
		}
	}
	defer func() {
		cancel()
		for _, j := range jobs[:started] {
			if j.file.isStdin {
				go drain(j.ch)
			} else {
				drain(j.ch)
			}
		}
		wg.Wait()
	}()

	sem := make(chan struct{}, s.opts.MaxInFlight)
	tails := map[string][]uint64{}
	var seq int64
	for i, f := range s.files {
		startUpTo(i + s.opts.Decoders)
		j := jobs[i]
		prevTail := tails[f.rot.group]
		delete(tails, f.rot.group)
		first := true
		for {
			var c *Chunk
			var ok bool
			select {
			case c, ok = <-j.ch:
			case <-ctx.Done():
				return ctx.Err()
			}
			if !ok {
				break
			}
			if first {
				first = false
				if len(prevTail) > 0 {
					n, lines := skipOverlap(s.seed(), prevTail, c.Data)
					if lines > 0 {
						c.Data = c.Data[n:]
						s.dups.Add(int64(lines))
					}
				}
			}
			if len(c.Data) == 0 {
				c.Release()
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				c.Release()
				return ctx.Err()
			}
			if err := ctx.Err(); err != nil {
				<-sem
				c.Release()
				return err
			}
			c.sem = sem
			c.Seq = seq
			seq++
			s.chunks.Add(1)
			if err := fn(c); err != nil {
				return err
			}
		}
		if j.tail != nil {
			tails[f.rot.group] = j.tail
		}
	}
	return nil
}

func drain(ch chan *Chunk) {
	for c := range ch {
		c.Release()
	}
}

var seedOnce = maphash.MakeSeed()

func (s *Set) seed() maphash.Seed { return seedOnce }

// errNoProgress guards against a reader that returns no data and no error
// forever.
var errNoProgress = errors.New("reader makes no progress")

// produce reads one file into chunks and sends them on j.ch, closing it at
// the end. Problems with the file are recorded, not returned.
func (s *Set) produce(ctx context.Context, j *job) {
	defer close(j.ch)
	defer s.filesDone.Add(1)
	r, closeFn, err := s.openInput(j.file)
	if err != nil {
		s.fileError(j.file, err)
		return
	}
	defer closeFn()
	p := &producer{s: s, j: j, r: r}
	if err := p.run(ctx); err != nil && ctx.Err() == nil {
		s.fileError(j.file, err)
	}
}

// openInput opens f for reading and wraps it in its decompressor.
func (s *Set) openInput(f *File) (io.Reader, func(), error) {
	if f.isStdin {
		closeStream := func() {
			if f.closer != nil {
				f.closer.Close()
			}
		}
		if f.Compression == None {
			return countReader{r: f.stream, n: &s.input}, closeStream, nil
		}
		zr, closeZ, err := decoder(countReader{r: f.stream, n: &s.compressed, m: &s.input}, f.Compression, s.xzPath())
		if err != nil {
			closeStream()
			return nil, func() {}, err
		}
		return zr, func() { closeZ(); closeStream() }, nil
	}
	fh, err := os.Open(f.Name)
	if err != nil {
		return nil, func() {}, err
	}
	// Sniff again: the file may have been replaced since Open.
	var magic [sniffLen]byte
	n, _ := fh.ReadAt(magic[:], 0)
	format := detect(magic[:n])
	if format == None {
		return countReader{r: fh, n: &s.input}, func() { fh.Close() }, nil
	}
	br := bufio.NewReaderSize(countReader{r: fh, n: &s.compressed, m: &s.input}, 256<<10)
	zr, closeZ, err := decoder(br, format, s.xzPath())
	if err != nil {
		fh.Close()
		return nil, func() {}, err
	}
	return zr, func() { closeZ(); fh.Close() }, nil
}

// countReader adds the bytes read to counters.
type countReader struct {
	r io.Reader
	n *atomic.Int64
	m *atomic.Int64 // optional second counter
}

func (c countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n.Add(int64(n))
		if c.m != nil {
			c.m.Add(int64(n))
		}
	}
	return n, err
}

// producer cuts one file into chunks of whole lines.
type producer struct {
	s    *Set
	j    *job
	r    io.Reader
	held []*Chunk // the last chunks, kept back to hash the file's tail

	read       int64 // bytes read from r
	leading    bool  // still stripping NULs at the start of the file
	discarding bool  // skipping the rest of an overlong line
}

func (p *producer) run(ctx context.Context) error {
	s := p.s
	chunkSize, maxLine := s.opts.ChunkSize, max(s.opts.MaxLine, s.opts.ChunkSize)
	p.leading = true
	buf := s.pool.get()
	n := 0
	var rerr error
	for {
		rerr = p.fill(buf, &n)
		if rerr != nil {
			break
		}
		// The buffer is full.
		last := bytes.LastIndexByte(buf[:n], '\n')
		if last < 0 {
			// One line fills the buffer.
			if n <= maxLine {
				bigger := make([]byte, min(2*len(buf), maxLine+1))
				copy(bigger, buf[:n])
				s.pool.put(buf)
				buf = bigger
				continue
			}
			// n == maxLine+1: cut the line, skip the rest of it.
			buf[maxLine] = '\n'
			s.overlong.Add(1)
			p.discarding = true
			if err := p.emit(ctx, buf, maxLine+1); err != nil {
				return err
			}
			buf, n = s.pool.get(), 0
			continue
		}
		carry := n - (last + 1)
		next := s.pool.getCap(max(chunkSize, 2*carry))
		copy(next, buf[last+1:n])
		if err := p.emit(ctx, buf, last+1); err != nil {
			return err
		}
		buf, n = next, carry
	}
	if !errors.Is(rerr, io.EOF) {
		rerr = fmt.Errorf("after %d decompressed bytes: %w", p.read, rerr)
	} else {
		rerr = nil
	}
	// End of input: what is left is the final lines, perhaps without '\n'.
	if n > 0 {
		if n > maxLine && bytes.LastIndexByte(buf[:n], '\n') < 0 {
			// Cut lines always end in '\n', as when cut before the end.
			buf[maxLine] = '\n'
			n = maxLine + 1
			s.overlong.Add(1)
		}
		if err := p.emit(ctx, buf, n); err != nil {
			return err
		}
	} else {
		s.pool.put(buf)
	}
	if p.j.needTail {
		p.j.tail = tailHashes(s.seed(), p.held, s.opts.OverlapLines)
	}
	for len(p.held) > 0 {
		c := p.held[0]
		p.held = p.held[1:]
		if err := p.send(ctx, c); err != nil {
			return err
		}
	}
	return rerr
}

// fill reads into buf[*n:] until it is full (nil error) or the input ends
// (io.EOF or the read error). Leading NULs of the file and the rest of an
// overlong line are dropped as they arrive.
func (p *producer) fill(buf []byte, n *int) error {
	zero := 0
	for *n < len(buf) {
		m, err := p.r.Read(buf[*n:])
		if m > 0 {
			zero = 0
			p.s.bytes.Add(int64(m))
			p.read += int64(m)
			got := buf[*n : *n+m]
			if p.leading {
				k := 0
				for k < len(got) && got[k] == 0 {
					k++
				}
				if k > 0 {
					p.s.nuls.Add(int64(k))
					m = copy(got, got[k:])
					got = got[:m]
				}
				if m > 0 {
					p.leading = false
				}
			}
			if p.discarding {
				if i := bytes.IndexByte(got, '\n'); i < 0 {
					m = 0
				} else {
					m = copy(got, got[i+1:])
					p.discarding = false
				}
			}
			*n += m
		} else if err == nil {
			zero++
			if zero > 100 {
				return errNoProgress
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// emit queues buf[:n] as the file's next chunk, keeping the last two back.
func (p *producer) emit(ctx context.Context, buf []byte, n int) error {
	c := &Chunk{File: p.j.file, Index: p.j.index, Data: buf[:n], buf: buf, pool: p.s.pool}
	p.held = append(p.held, c)
	if len(p.held) <= 2 {
		return nil
	}
	first := p.held[0]
	copy(p.held, p.held[1:])
	p.held = p.held[:len(p.held)-1]
	return p.send(ctx, first)
}

func (p *producer) send(ctx context.Context, c *Chunk) error {
	select {
	case p.j.ch <- c:
		return nil
	case <-ctx.Done():
		c.Release()
		for _, h := range p.held {
			if h != c {
				h.Release()
			}
		}
		p.held = nil
		return ctx.Err()
	}
}

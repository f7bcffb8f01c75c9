package logsrc

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Compression names reported in File.Compression.
const (
	None  = ""
	Gzip  = "gzip"
	XZ    = "xz"
	Zstd  = "zstd"
	Bzip2 = "bzip2"
)

// sniffLen is how many leading bytes detect needs.
const sniffLen = 6

// detect names the compression format of data from its magic bytes. Anything
// it does not recognise is plain text.
func detect(b []byte) string {
	switch {
	case len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b:
		return Gzip
	case len(b) >= 6 && bytes.Equal(b[:6], []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return XZ
	case len(b) >= 4 && bytes.Equal(b[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd
	case len(b) >= 4 && b[1] == 0x2a && b[2] == 0x4d && b[3] == 0x18 && b[0]&0xf0 == 0x50:
		// A zstd skippable frame (0x184D2A50..0x184D2A5F, little endian).
		return Zstd
	case len(b) >= 4 && b[0] == 'B' && b[1] == 'Z' && b[2] == 'h' && b[3] >= '1' && b[3] <= '9':
		return Bzip2
	}
	return None
}

// maxZstdWindow bounds the memory a zstd frame may ask for (zstd --long=28;
// the zstd tool's default is 8 MiB at most).
const maxZstdWindow = 256 << 20

// decoderBuf is the read buffer put in front of a decoder whose input is not
// an io.ByteReader. The Go xz decoder reads its input a few bytes at a time:
// from an unbuffered file that is one pread per few bytes (1.4 MB/s instead
// of 24 MB/s).
const decoderBuf = 64 << 10

// decoder wraps r in a decompressor for format. The returned close function
// releases the decoder's resources (zstd runs goroutines, xz may run the xz
// program) and is never nil. xz is decoded by the system's xz program when
// xzPath names it, else by the Go decoder.
func decoder(r io.Reader, format, xzPath string) (io.Reader, func(), error) {
	nop := func() {}
	switch format {
	case None:
		return r, nop, nil
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nop, fmt.Errorf("gzip header: %w", err)
		}
		zr.Multistream(true)
		return zr, func() { _ = zr.Close() }, nil
	case Zstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return nil, nop, fmt.Errorf("zstd header: %w", err)
		}
		return zr, zr.Close, nil
	case XZ:
		if xzPath != "" {
			return startXZ(r, xzPath)
		}
		if _, ok := r.(io.ByteReader); !ok {
			r = bufio.NewReaderSize(r, decoderBuf)
		}
		zr, err := xz.NewReader(r)
		if err != nil {
			return nil, nop, fmt.Errorf("xz header: %w", err)
		}
		return zr, nop, nil
	case Bzip2:
		return bzip2.NewReader(r), nop, nil
	}
	return nil, nop, fmt.Errorf("unknown compression %q", format)
}

// lookXZ finds the xz program once. The xz tool decodes about four times
// as fast as the Go decoder (liblzma's hand-tuned range decoder).
var lookXZ = sync.OnceValue(func() string {
	p, err := exec.LookPath("xz")
	if err != nil {
		return ""
	}
	return p
})

// xzPath is the xz program the set decodes with, or "" for the Go decoder.
func (s *Set) xzPath() string {
	if s.opts.BuiltinXZ {
		return ""
	}
	return lookXZ()
}

// xzProc reads the output of "xz --decompress --stdout", fed r on its
// standard input by a goroutine of its own: no file name is ever put on its
// command line.
type xzProc struct {
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr *capBuffer
	feed   chan error // the feeding goroutine's read error, once it ends
	once   sync.Once
	err    error // the end of the stream: io.EOF, or why xz failed
}

func startXZ(r io.Reader, path string) (io.Reader, func(), error) {
	nop := func() {}
	// xz's standard input is a pipe fed by a goroutine that Wait does not
	// wait for: on a stream (standard input) that goroutine may be blocked
	// in a read that nothing can interrupt, and a cancelled read must not
	// wait for it. It ends at its next write once xz is gone.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, nop, fmt.Errorf("xz: %w", err)
	}
	cmd := exec.Command(path, "--decompress", "--stdout")
	cmd.Stdin = inR
	stderr := &capBuffer{max: 4 << 10}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, nop, fmt.Errorf("xz: %w", err)
	}
	err = cmd.Start()
	inR.Close()
	if err != nil {
		inW.Close()
		return nil, nop, fmt.Errorf("start %s: %w", path, err)
	}
	p := &xzProc{cmd: cmd, out: out, stderr: stderr, feed: make(chan error, 1)}
	go func() {
		_, err := io.Copy(inW, r)
		inW.Close()
		var pe *os.PathError
		if errors.As(err, &pe) && errors.Is(pe.Err, syscall.EPIPE) {
			err = nil // xz stopped reading: it says why itself
		}
		p.feed <- err
	}()
	return p, p.close, nil
}

func (p *xzProc) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.out.Read(b)
	if errors.Is(err, io.EOF) {
		// The output ended: xz's exit status says whether the data did.
		p.err = io.EOF
		if werr := p.wait(); werr != nil {
			p.err = werr
		} else if ferr := <-p.feed; ferr != nil {
			// xz saw its input end early because reading it failed
			p.err = fmt.Errorf("read compressed input: %w", ferr)
		}
		return n, p.err
	}
	if err != nil {
		p.err = fmt.Errorf("xz: %w", err)
	}
	return n, p.err
}

// wait reaps xz once and describes a failure with its message.
func (p *xzProc) wait() error {
	var err error
	p.once.Do(func() {
		if werr := p.cmd.Wait(); werr != nil {
			msg := strings.TrimSpace(p.stderr.String())
			if msg == "" {
				err = fmt.Errorf("xz: %w", werr)
			} else {
				err = fmt.Errorf("xz: %w: %s", werr, msg)
			}
		}
	})
	return err
}

// close stops xz if it is still running (a cancelled read) and reaps it.
func (p *xzProc) close() {
	if p.err == nil {
		_ = p.cmd.Process.Kill()
	}
	_ = p.wait()
}

// capBuffer keeps the first max bytes written to it.
type capBuffer struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

func (c *capBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.b.Len(); room > 0 {
		c.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}

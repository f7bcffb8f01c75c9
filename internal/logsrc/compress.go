package logsrc

import (
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"

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

// decoder wraps r in a decompressor for format. The returned close function
// releases the decoder's resources (zstd runs goroutines) and is never nil.
func decoder(r io.Reader, format string) (io.Reader, func(), error) {
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

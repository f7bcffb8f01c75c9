package logsrc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// systemXZ returns the xz program, or skips the test.
func systemXZ(t *testing.T) string {
	t.Helper()
	p := lookXZ()
	if p == "" {
		t.Skip("no xz program in PATH")
	}
	return p
}

// xzTool compresses data with the xz program (multi-block with -T2).
func xzTool(t *testing.T, data []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(systemXZ(t), append([]string{"-c"}, args...)...)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestXZProgramAndGoDecoderAgree(t *testing.T) {
	systemXZ(t)
	plain := logLines("X", 0, 40000)
	dir := t.TempDir()
	files := map[string][]byte{
		"go.log.xz":     xzData(t, plain),
		"tool.log.xz":   xzTool(t, plain, "-1", "-T2", "--block-size=256KiB"),
		"concat.log.xz": append(xzTool(t, plain[:len(plain)/2], "-0"), xzData(t, plain[len(plain)/2:])...),
	}
	for name, data := range files {
		p := writeFile(t, dir, name, data, time.Time{})
		for _, builtin := range []bool{false, true} {
			set, err := Open([]string{p}, Options{BuiltinXZ: builtin, ChunkSize: 64 << 10})
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, set).perFile[p]
			if !bytes.Equal(got, plain) {
				t.Errorf("%s (builtin %v): read %d bytes, want the %d compressed", name, builtin, len(got), len(plain))
			}
			if st := set.Stats(); len(st.Errors) > 0 || st.CompressedBytes != int64(len(data)) {
				t.Errorf("%s (builtin %v): errors %v, compressed bytes %d of %d", name, builtin, st.Errors, st.CompressedBytes, len(data))
			}
			tail, err := set.Tail(set.Files()[0], 1000)
			if err != nil || len(tail) == 0 || !bytes.HasSuffix(plain, tail) {
				t.Errorf("%s (builtin %v): tail %q, %v", name, builtin, tail, err)
			}
		}
	}
}

func TestXZDamageIsAnError(t *testing.T) {
	systemXZ(t)
	plain := logLines("D", 0, 20000)
	good := xzTool(t, plain, "-1")
	corrupt := bytes.Clone(good)
	for i := len(corrupt) / 2; i < len(corrupt)/2+64; i++ {
		corrupt[i] ^= 0x55
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"truncated.xz": good[:len(good)*2/3],
		"corrupt.xz":   corrupt,
	} {
		p := writeFile(t, dir, name, data, time.Time{})
		for _, builtin := range []bool{false, true} {
			set, err := Open([]string{p}, Options{BuiltinXZ: builtin})
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, set).perFile[p]
			st := set.Stats()
			if len(st.Errors) != 1 {
				t.Errorf("%s (builtin %v): errors %v, want one", name, builtin, st.Errors)
				continue
			}
			// xz checks a block's CRC at the block's end, after writing
			// it: only a truncated file is known to give a true prefix
			if name == "truncated.xz" && !bytes.HasPrefix(plain, got) {
				t.Errorf("%s (builtin %v): delivered data that is not the file's", name, builtin)
			}
			if msg := st.Errors[0].Error(); !builtin && !strings.Contains(msg, "xz: exit status") {
				t.Errorf("%s: the xz program's failure is not named: %s", name, msg)
			}
		}
	}
}

// endless yields log lines slowly and never ends: a decoder fed by it only
// stops when it is told to.
type endless struct{ n int }

func (e *endless) Read(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	e.n++
	return copy(p, logLines("E", e.n, 1)), nil
}

func TestTailStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := lastBytes(ctx, &endless{}, 1000)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("lastBytes: %v, want the context's error", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("lastBytes stopped %v after it was cancelled", d)
	}
}

func TestXZProgramStopsOnClose(t *testing.T) {
	xzPath := systemXZ(t)
	// xz waits for input that never comes: close must not wait for it.
	pr, pw := io.Pipe()
	defer pw.Close()
	zr, closeFn, err := decoder(pr, XZ, xzPath)
	if err != nil {
		t.Fatal(err)
	}
	proc := zr.(*xzProc)
	start := time.Now()
	closeFn()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("close took %v", d)
	}
	if proc.cmd.ProcessState == nil {
		t.Error("xz was not reaped")
	}
}

func TestXZProgramNeverSeesTheFileName(t *testing.T) {
	xzPath := systemXZ(t)
	dir := t.TempDir()
	p := writeFile(t, dir, "--help.xz", xzTool(t, []byte("a line\n")), time.Time{})
	set, err := Open([]string{filepath.Join(dir, "--help.xz")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(readAll(t, set).perFile[p]); got != "a line\n" {
		t.Errorf("read %q through %s", got, xzPath)
	}
}

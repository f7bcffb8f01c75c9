package follow

import (
	"fmt"
	"os"
	"testing"
)

// TestBacklog: what is written and not yet delivered, per path; zero once
// read to the end however long ago the last line came; the rest of a
// rotated file plus the new one while the rotated file is finished.
func TestBacklog(t *testing.T) {
	dir, path := logPath(t)
	w := appender(t, path)
	fmt.Fprint(w, "a\nb\n")
	h := start(t, dir, Config{Paths: []string{path, path + ".other"}})
	backlog := func() []Backlog {
		t.Helper()
		b := h.f.Backlog()
		if len(b) != 2 || b[0].Path != path || !b[1].Missing || b[1].Bytes != 0 {
			t.Fatalf("backlog = %+v", b)
		}
		return b
	}
	h.expect("a", "b")
	if b := backlog(); b[0].Bytes != 0 || b[0].Missing || b[0].Rotated {
		t.Errorf("read to the end: %+v, want 0 bytes behind", b[0])
	}
	fmt.Fprint(w, "ccc\ndd") // 6 bytes; the partial line counts too: it is written
	if b := backlog(); b[0].Bytes != 6 {
		t.Errorf("after 6 bytes written: %+v", b[0])
	}
	h.poll()
	h.expect("ccc")
	if b := backlog(); b[0].Bytes != 2 {
		t.Errorf("after the poll, the partial line left: %+v", b[0])
	}
	fmt.Fprint(w, "d\n")
	h.poll()
	h.expect("ddd")
	// Rotation: 4 more bytes in the old file, 5 in the new one, not read.
	fmt.Fprint(w, "eee\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(t, path, "ffff\n")
	if b := backlog(); b[0].Bytes != 9 || !b[0].Rotated {
		t.Errorf("rotated, nothing read: %+v, want 9 bytes, rotated", b[0])
	}
	for range 4 {
		h.poll()
	}
	h.expect("eee", "ffff")
	if b := backlog(); b[0].Bytes != 0 || b[0].Rotated {
		t.Errorf("after the rotation was followed: %+v", b[0])
	}
}

package quarantine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/queue"
)

// fakeQueue is a queue directory with hold and deferred, where CheckStructure
// renames hold files to a name derived from their inode, as postsuper -s does.
type fakeQueue struct {
	dir      string
	released []string
	checked  int
}

func (f *fakeQueue) where(id string) string {
	for _, q := range []string{"hold", "deferred"} {
		if _, err := os.Stat(filepath.Join(f.dir, q, id)); err == nil {
			return q
		}
	}
	return ""
}

func (f *fakeQueue) Inspect(ctx context.Context, ids []string, fn func(queue.Message) error) error {
	for _, id := range ids {
		if q := f.where(id); q != "" {
			fn(queue.Message{QueueID: id, Queue: q, Sender: "spam@example.net", Recipients: []string{"v@example.org"},
				SASLUsername: "alice@lab.test", ArrivalTime: time.Unix(1_800_000_000, 0)})
		}
	}
	return nil
}

func (f *fakeQueue) Release(ctx context.Context, ids []string) (queue.OpResult, error) {
	r := queue.OpResult{Requested: len(ids)}
	for _, id := range ids {
		if os.Rename(filepath.Join(f.dir, "hold", id), filepath.Join(f.dir, "deferred", id)) == nil {
			r.Changed++
			f.released = append(f.released, id)
		}
	}
	return r, nil
}

func (f *fakeQueue) FindFile(q, id string) (string, error) {
	p := filepath.Join(f.dir, q, id)
	_, err := os.Stat(p)
	return p, err
}

func (f *fakeQueue) Text(ctx context.Context, id string, w io.Writer) error {
	_, err := fmt.Fprintf(w, "*** ENVELOPE RECORDS hold/%s ***\nSubject: spam\n", id)
	return err
}

func (f *fakeQueue) CheckStructure(ctx context.Context) error {
	f.checked++
	ents, _ := os.ReadDir(filepath.Join(f.dir, "hold"))
	for _, e := range ents {
		info, _ := e.Info()
		want := fmt.Sprintf("ABCD%06X", info.Sys().(*syscall.Stat_t).Ino&0xffffff)
		if e.Name() != want {
			os.Rename(filepath.Join(f.dir, "hold", e.Name()), filepath.Join(f.dir, "hold", want))
		}
	}
	return nil
}

func (f *fakeQueue) QueueDir() string { return f.dir }

func setup(t *testing.T) (*Quarantine, *fakeQueue) {
	t.Helper()
	base := t.TempDir()
	f := &fakeQueue{dir: filepath.Join(base, "spool")}
	for _, d := range []string{"hold", "deferred"} {
		os.MkdirAll(filepath.Join(f.dir, d), 0o700)
	}
	os.WriteFile(filepath.Join(f.dir, "hold", "92B919843A2"), []byte("raw queue file\x00\x01"), 0o700)
	os.WriteFile(filepath.Join(f.dir, "deferred", "1736F984192"), []byte("other"), 0o700)
	qq, err := New(Config{Root: filepath.Join(base, "q"), Now: func() time.Time { return time.Unix(1_800_000_100, 0) },
		freeBytes: func(string) (int64, error) { return 1 << 40, nil }}, f)
	if err != nil {
		t.Fatal(err)
	}
	return qq, f
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestExportIdempotent(t *testing.T) {
	qq, _ := setup(t)
	ctx := context.Background()
	e, existed, err := qq.Export(ctx, "92B919843A2", "alice@lab.test")
	if err != nil || existed {
		t.Fatalf("export = %+v, %v, %v", e, existed, err)
	}
	sum := sha256.Sum256([]byte("raw queue file\x00\x01"))
	if e.SHA256 != hex.EncodeToString(sum[:]) || e.Size != 16 || e.Login != "alice@lab.test" || e.ID != "92B919843A2-"+e.SHA256[:16] {
		t.Errorf("entry = %+v", e)
	}
	_, raw, text, err := qq.Show(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(raw); string(b) != "raw queue file\x00\x01" {
		t.Errorf("raw copy = %q", b)
	}
	if b, _ := os.ReadFile(text); !strings.Contains(string(b), "Subject: spam") {
		t.Errorf("text copy = %q", b)
	}
	for p, want := range map[string]os.FileMode{qq.cfg.Root: 0o700, filepath.Dir(raw): 0o700, raw: 0o600, text: 0o600,
		filepath.Join(qq.cfg.Root, IndexName): 0o600} {
		if got := mode(t, p); got != want {
			t.Errorf("mode of %s = %v, want %v", p, got, want)
		}
	}
	e2, existed, err := qq.Export(ctx, "92B919843A2", "alice@lab.test")
	if err != nil || !existed || e2.ID != e.ID {
		t.Errorf("second export = %+v, %v, %v", e2, existed, err)
	}
	idx, _ := os.ReadFile(filepath.Join(qq.cfg.Root, IndexName))
	if n := bytes.Count(idx, []byte("\n")); n != 1 {
		t.Errorf("index has %d lines, want 1", n)
	}
	// A damaged copy is not trusted: the export is written again.
	os.WriteFile(raw, []byte("tampered"), 0o600)
	os.RemoveAll(filepath.Dir(raw))
	if _, existed, err := qq.Export(ctx, "92B919843A2", "alice@lab.test"); err != nil || existed {
		t.Errorf("export after damage: existed=%v err=%v", existed, err)
	}
	left, _ := filepath.Glob(filepath.Join(qq.cfg.Root, ".export-*"))
	if len(left) != 0 {
		t.Errorf("temporary dirs left: %v", left)
	}
}

func TestExportRefusals(t *testing.T) {
	qq, _ := setup(t)
	ctx := context.Background()
	for _, tt := range []struct{ id, login, want string }{
		{"1736F984192", "alice@lab.test", "not on hold"},
		{"DEADBEEF01", "alice@lab.test", "not in the queue"},
		{"92B919843A2", strings.Repeat("x", 10*1024), "at most 1024"},
	} {
		if _, _, err := qq.Export(ctx, tt.id, tt.login); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Export(%s) = %v, want %q", tt.id, err, tt.want)
		}
	}
	qq.cfg.freeBytes = func(string) (int64, error) { return 100 << 20, nil }
	if _, _, err := qq.Export(ctx, "92B919843A2", "alice@lab.test"); err == nil || !strings.Contains(err.Error(), "free") {
		t.Errorf("export without space = %v", err)
	}
	if es, _ := qq.List(); len(es) != 0 {
		t.Errorf("refused exports left entries: %+v", es)
	}
}

func TestRestore(t *testing.T) {
	qq, f := setup(t)
	ctx := context.Background()
	e, _, err := qq.Export(ctx, "92B919843A2", "alice@lab.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := qq.Restore(ctx, e.ID, RestoreOptions{}); err == nil || !strings.Contains(err.Error(), "still queued") {
		t.Fatalf("restore while queued = %v", err)
	}
	os.Remove(filepath.Join(f.dir, "hold", "92B919843A2"))
	r, err := qq.Restore(ctx, e.ID, RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.RestoredAs == "" || r.RestoredAs == "92B919843A2" || f.checked != 1 || len(f.released) != 1 || f.released[0] != r.RestoredAs {
		t.Errorf("restore = %+v, released %v", r, f.released)
	}
	p := filepath.Join(f.dir, "deferred", r.RestoredAs)
	if b, _ := os.ReadFile(p); string(b) != "raw queue file\x00\x01" || mode(t, p) != 0o700 {
		t.Errorf("restored file %s wrong", p)
	}
	es, _ := qq.List()
	if len(es) != 1 || es[0].RestoredAs != r.RestoredAs {
		t.Errorf("list after restore = %+v", es)
	}
	if _, err := qq.Restore(ctx, "../../etc-0123456789abcdef", RestoreOptions{}); err == nil {
		t.Error("restored an unknown entry")
	}
}

func TestListSkipsHostileIndexLines(t *testing.T) {
	qq, _ := setup(t)
	idx := `{"id":"../../etc/passwd","queue_id":"x"}
not json
{"id":"ABCDEF0123-0123456789abcdef","queue_id":"ABCDEF0123","login":"a\nb"}
{"id":"ABCDEF0123-0123456789abcdef/../x","queue_id":"ABCDEF0123"}
`
	os.MkdirAll(qq.cfg.Root, 0o700)
	os.WriteFile(filepath.Join(qq.cfg.Root, IndexName), []byte(idx), 0o600)
	es, err := qq.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].ID != "ABCDEF0123-0123456789abcdef" {
		t.Errorf("list = %+v", es)
	}
}

func TestHostileLoginInIndex(t *testing.T) {
	qq, _ := setup(t)
	login := "a\nb\"}{\"id\":\"../../x-0123456789abcdef\"}\x00"
	e, _, err := qq.Export(context.Background(), "92B919843A2", login)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := os.ReadFile(filepath.Join(qq.cfg.Root, IndexName))
	if n := bytes.Count(idx, []byte("\n")); n != 1 {
		t.Errorf("index has %d lines, want 1:\n%s", n, idx)
	}
	es, err := qq.List()
	if err != nil || len(es) != 1 || es[0].Login != login || es[0].ID != e.ID {
		t.Errorf("list = %+v, %v", es, err)
	}
}

// TestNewCreatesNothing: opening a quarantine (to list it, or for a dry
// run) creates no directory; the first export creates it, 0700.
func TestNewCreatesNothing(t *testing.T) {
	qq, _ := setup(t)
	if _, err := os.Stat(qq.cfg.Root); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("New created the quarantine root: %v", err)
	}
	if es, err := qq.List(); err != nil || len(es) != 0 {
		t.Errorf("list of a quarantine not yet created = %v, %v", es, err)
	}
	if _, _, err := qq.Export(context.Background(), "92B919843A2", "a@x.test"); err != nil {
		t.Fatal(err)
	}
	if mode(t, qq.cfg.Root) != 0o700 {
		t.Errorf("root mode %v", mode(t, qq.cfg.Root))
	}
}

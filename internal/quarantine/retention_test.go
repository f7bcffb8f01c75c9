package quarantine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// exportAt quarantines a new held message of size bytes, exported at t.
func exportAt(t *testing.T, qq *Quarantine, f *fakeQueue, id string, size int, at time.Time) Entry {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, "hold", id), []byte(strings.Repeat("x", size)), 0o700); err != nil {
		t.Fatal(err)
	}
	qq.cfg.Now = func() time.Time { return at }
	e, _, err := qq.Export(context.Background(), id, "alice@lab.test")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestPurge(t *testing.T) {
	qq, f := setup(t)
	day := 24 * time.Hour
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var es []Entry
	for i := range 5 {
		es = append(es, exportAt(t, qq, f, fmt.Sprintf("A%09X", i+1), 1000, t0.Add(time.Duration(i)*10*day)))
	}
	now := t0.Add(45 * day) // exports are 45, 35, 25, 15 and 5 days old
	qq.cfg.Now = func() time.Time { return now }
	u, err := qq.Usage()
	if err != nil || u.Entries != 5 || u.Bytes < 5000 || !u.Oldest.Equal(t0) {
		t.Fatalf("usage %+v, %v", u, err)
	}
	per := u.Bytes / 5

	if _, err := qq.Purge(PurgeOptions{}); err == nil {
		t.Error("a purge without a policy was accepted")
	}
	// Dry: selects, removes nothing.
	r, err := qq.Purge(PurgeOptions{OlderThan: 30 * day, DryRun: true})
	if err != nil || len(r.Purged) != 2 || r.Purged[0].ID != es[0].ID || r.Left.Entries != 3 {
		t.Fatalf("dry purge %+v, %v", r, err)
	}
	if u2, _ := qq.Usage(); u2 != u {
		t.Errorf("a dry purge changed the quarantine: %+v", u2)
	}
	// By age: the two older than 30 days go, the index remembers them, the
	// files are gone, and they are no longer listed or shown.
	r, err = qq.Purge(PurgeOptions{OlderThan: 30 * day})
	if err != nil || len(r.Purged) != 2 || r.Bytes != 2*per {
		t.Fatalf("purge by age %+v, %v", r, err)
	}
	for _, e := range es[:2] {
		if _, err := os.Stat(filepath.Join(qq.cfg.Root, e.ID)); !os.IsNotExist(err) {
			t.Errorf("%s still on disk: %v", e.ID, err)
		}
		if _, _, _, err := qq.Show(e.ID); err == nil {
			t.Errorf("%s still shown", e.ID)
		}
	}
	if l, _ := qq.List(); len(l) != 3 || l[0].ID != es[2].ID {
		t.Errorf("list after purge: %+v", l)
	}
	// By size: the oldest go until the rest fits.
	r, err = qq.Purge(PurgeOptions{MaxBytes: 2*per + per/2})
	if err != nil || len(r.Purged) != 1 || r.Purged[0].ID != es[2].ID || r.Left.Entries != 2 || r.Left.Bytes != 2*per {
		t.Fatalf("purge by size %+v, %v", r, err)
	}
	// An interrupted purge (marked, files left) is finished by the next;
	// a directory the index does not name (an export in progress) is kept.
	e := es[3]
	e.PurgedAt = now
	if err := qq.appendIndex(e); err != nil {
		t.Fatal(err)
	}
	inProgress := filepath.Join(qq.cfg.Root, "B000000001-0123456789abcdef")
	os.MkdirAll(inProgress, 0o700)
	if _, err := qq.Purge(PurgeOptions{OlderThan: 100 * day}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(qq.cfg.Root, e.ID)); !os.IsNotExist(err) {
		t.Errorf("files of an interrupted purge left: %v", err)
	}
	if _, err := os.Stat(inProgress); err != nil {
		t.Errorf("an unlisted directory was removed: %v", err)
	}
	if u, _ := qq.Usage(); u.Entries != 1 {
		t.Errorf("usage at the end: %+v", u)
	}
}

package store

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// TestWatchState: the cursors and the snapshot are saved and replaced
// together, survive a reopen, and can be cleared.
func TestWatchState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadWatchState(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("nothing saved: %v, want ErrNotFound", err)
	}
	if err := s.SaveWatchState(ctx, []byte("not json"), []byte{1}); err == nil {
		t.Fatal("cursors that are not JSON were accepted")
	}
	big := bytes.Repeat([]byte{0, 1, 2, 0xff}, 1<<20)
	for i, snap := range [][]byte{{0, 1, 2}, big, nil} {
		cur := []byte(`[{"path":"/var/log/mail.log","offset":` + string(rune('1'+i)) + `}]`)
		if err := s.SaveWatchState(ctx, cur, snap); err != nil {
			t.Fatal(err)
		}
		ws, err := s.LoadWatchState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ws.Cursors, cur) || !bytes.Equal(ws.Snapshot, snap) || ws.Saved.IsZero() {
			t.Fatalf("save %d: loaded cursors %s, %d snapshot bytes, saved %v", i, ws.Cursors, len(ws.Snapshot), ws.Saved)
		}
	}
	if err := s.SaveWatchState(ctx, []byte(`[]`), big); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ws, err := s.LoadWatchState(ctx)
	if err != nil || string(ws.Cursors) != `[]` || !bytes.Equal(ws.Snapshot, big) {
		t.Fatalf("after reopen: %s, %d bytes, %v", ws.Cursors, len(ws.Snapshot), err)
	}
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM watch_state`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d rows, %v: want one", n, err)
	}
	if err := s.ClearWatchState(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadWatchState(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after clear: %v", err)
	}
}

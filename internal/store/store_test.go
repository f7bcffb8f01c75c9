package store

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	base := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	s.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		base = base.Add(time.Second)
		return base
	}
	return s
}

func TestOpenMigratesOnceAndReopens(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Block(ctx, "a@x.test", "policy", "r", 0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	v, err := s2.SchemaVersion(ctx)
	if err != nil || v != len(migrations) {
		t.Fatalf("schema version = %d, %v; want %d", v, err, len(migrations))
	}
	if _, ok, _ := s2.IsBlocked(ctx, "A@X.TEST"); !ok {
		t.Fatal("block lost across reopen")
	}
	var mode string
	if err := s2.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
}

func TestBlockRegistry(t *testing.T) {
	ctx := context.Background()
	hostile := []string{
		"alice@lab.test",
		"Robert'); DROP TABLE blocked_logins;--@x.test",
		"line\nbreak@x.test",
		"ünïcode@x.test",
	}
	s := openTest(t)
	for i, l := range hostile {
		created, err := s.Block(ctx, l, "policy", "rate", int64(i))
		if err != nil || !created {
			t.Fatalf("Block(%q) = %v, %v", l, created, err)
		}
	}
	created, err := s.Block(ctx, "ALICE@lab.test", "respond", "again", 0)
	if err != nil || created {
		t.Fatalf("second Block = %v, %v; want false, nil", created, err)
	}
	b, ok, err := s.IsBlocked(ctx, "alice@LAB.test")
	if err != nil || !ok || b.Source != "policy" || b.Reason != "rate" {
		t.Fatalf("IsBlocked = %+v, %v, %v", b, ok, err)
	}
	list, err := s.ListBlocked(ctx)
	if err != nil || len(list) != len(hostile) {
		t.Fatalf("ListBlocked = %d entries, %v", len(list), err)
	}
	if list[1].Login != "robert'); drop table blocked_logins;--@x.test" || list[1].IncidentID != 1 {
		t.Fatalf("hostile login stored as %+v", list[1])
	}
	if err := s.Unblock(ctx, "Alice@lab.test"); err != nil {
		t.Fatal(err)
	}
	if err := s.Unblock(ctx, "alice@lab.test"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Unblock = %v; want ErrNotFound", err)
	}
	if _, ok, _ := s.IsBlocked(ctx, "alice@lab.test"); ok {
		t.Fatal("still blocked after Unblock")
	}
	for _, bad := range []string{"", string(make([]byte, MaxLoginLen+1)), "a\x00b"} {
		if _, err := s.Block(ctx, bad, "policy", "", 0); err == nil {
			t.Errorf("Block(%q...) accepted an invalid login", bad[:min(len(bad), 8)])
		}
	}
}

func TestIncidents(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	id1, err := s.CreateIncident(ctx, Incident{Login: "Alice@lab.test", Source: "policy", Summary: "rate"})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := s.CreateIncident(ctx, Incident{Login: "bob@lab.test", Source: "watch", Summary: "spray"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	if _, err := s.AddAction(ctx, Action{IncidentID: id1, At: at, Command: "postsuper -h -", Result: "ok", OK: 51, Failed: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddAction(ctx, Action{IncidentID: id1, At: at.Add(-time.Minute), Command: "policy block", Result: "ok", OK: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddAction(ctx, Action{IncidentID: 999, Command: "x"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("AddAction to missing incident = %v; want ErrNotFound", err)
	}
	inc, acts, err := s.GetIncident(ctx, id1)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Login != "alice@lab.test" || inc.Status != StatusOpen || !inc.Updated.Equal(at) {
		t.Fatalf("incident = %+v", inc)
	}
	if len(acts) != 2 || acts[0].Command != "policy block" || acts[1].OK != 51 || acts[1].Failed != 2 || !acts[1].At.Equal(at) {
		t.Fatalf("actions = %+v", acts)
	}
	if _, _, err := s.GetIncident(ctx, 12345); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetIncident(missing) = %v", err)
	}
	all, err := s.ListIncidents(ctx, IncidentFilter{})
	if err != nil || len(all) != 2 || all[0].ID != id2 {
		t.Fatalf("ListIncidents = %+v, %v", all, err)
	}
	if err := s.SetIncidentStatus(ctx, id2, StatusClosed); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    IncidentFilter
		want []int64
	}{
		{"by login", IncidentFilter{Login: "ALICE@lab.test"}, []int64{id1}},
		{"open", IncidentFilter{Status: StatusOpen}, []int64{id1}},
		{"closed", IncidentFilter{Status: StatusClosed}, []int64{id2}},
		{"limit", IncidentFilter{Limit: 1}, []int64{id2}},
		{"injection", IncidentFilter{Login: "' OR 1=1 --"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListIncidents(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, g := range got {
				ids = append(ids, g.ID)
			}
			if len(ids) != len(tt.want) || (len(ids) > 0 && ids[0] != tt.want[0]) {
				t.Fatalf("ids = %v; want %v", ids, tt.want)
			}
		})
	}
}

func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s, err := OpenDir(dir)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			for i := 0; i < 25; i++ {
				if _, err := s.CreateIncident(ctx, Incident{Login: "x@y.test", Source: "t"}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, _ := s.ListIncidents(ctx, IncidentFilter{})
	if len(got) != 100 {
		t.Fatalf("incidents = %d; want 100", len(got))
	}
}

func TestLock(t *testing.T) {
	s := openTest(t)
	l, err := s.TryLock("respond")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.TryLock("respond"); !errors.Is(err, ErrLocked) {
		t.Fatalf("second TryLock = %v; want ErrLocked", err)
	}
	other, err := s.TryLock("watch")
	if err != nil {
		t.Fatalf("independent lock: %v", err)
	}
	other.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := s.Lock(ctx, "respond"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while held = %v; want deadline exceeded", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatalf("double Unlock: %v", err)
	}
	l2, err := s.Lock(context.Background(), "respond")
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	l2.Unlock()
	for _, bad := range []string{"", "../etc", "a b", "UP"} {
		if _, err := s.TryLock(bad); err == nil {
			t.Errorf("TryLock(%q) accepted", bad)
		}
	}
}

// TestLockAcrossProcesses checks the lock against another process holding
// flock on the same file.
func TestLockAcrossProcesses(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock(1) not installed")
	}
	s := openTest(t)
	p := filepath.Join(s.dir, "respond.lock")
	cmd := exec.Command("flock", "-x", p, "sleep", "2")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	deadline := time.Now().Add(time.Second)
	for {
		l, err := s.TryLock("respond")
		if errors.Is(err, ErrLocked) {
			return
		}
		if err == nil {
			// flock(1) has not taken it yet: release and retry.
			l.Unlock()
		}
		if time.Now().After(deadline) {
			t.Fatal("lock held by another process was not detected")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCreatedDatabaseIsPrivate: a database Open creates, and its WAL files,
// are readable by the owner only, whatever the umask lets through.
func TestCreatedDatabaseIsPrivate(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Block(context.Background(), "a@x.test", "policy", "r", 0); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{FileName, FileName + "-wal", FileName + "-shm"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, st.Mode().Perm())
		}
	}
}

// TestOpenExistingCreatesNothing: a state directory or database that does
// not exist is ErrNoStore, and nothing is created; an existing one opens.
func TestOpenExistingCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	for _, sd := range []string{filepath.Join(dir, "typo"), dir} {
		if _, err := OpenExistingDir(sd); !errors.Is(err, ErrNoStore) {
			t.Errorf("OpenExistingDir(%s) = %v, want ErrNoStore", sd, err)
		}
	}
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Errorf("OpenExisting created %v", es)
	}
	if _, err := os.Stat(filepath.Join(dir, "typo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state directory created: %v", err)
	}
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Block(context.Background(), "a@x.test", "policy", "r", 0)
	s.Close()
	s, err = OpenExistingDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok, err := s.IsBlocked(context.Background(), "a@x.test"); !ok || err != nil {
		t.Errorf("existing store: blocked %v, %v", ok, err)
	}
}

func TestOpenMemory(t *testing.T) {
	s, err := OpenMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	id, err := s.CreateIncident(ctx, Incident{Login: "a@x.test", Source: "respond"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetIncident(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(":memory:"); err == nil {
		t.Error("OpenMemory created a file named :memory:")
	}
}

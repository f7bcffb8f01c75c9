package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrLocked is returned by TryLock when another process holds the lock.
var ErrLocked = errors.New("lock held by another process")

// Lock is an exclusive, advisory, multi-process lock: flock(2) on a file
// in the store's directory. The kernel releases it if the process dies.
type Lock struct {
	f    *os.File
	name string
}

func validLockName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// TryLock takes the named lock or fails at once with ErrLocked, whose
// message names the holding pid. Names are [a-z0-9_-], up to 64 bytes.
func (s *Store) TryLock(name string) (*Lock, error) {
	if !validLockName(name) {
		return nil, fmt.Errorf("lock %q: invalid name", name)
	}
	if s.memory {
		return &Lock{name: name}, nil // no other process can see this store
	}
	p := filepath.Join(s.dir, name+".lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		var b [32]byte
		n, _ := f.ReadAt(b[:], 0)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := strings.TrimSpace(string(b[:n]))
			if _, perr := strconv.Atoi(holder); perr == nil {
				return nil, fmt.Errorf("lock %s (pid %s): %w", name, holder, ErrLocked)
			}
			return nil, fmt.Errorf("lock %s: %w", name, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f, name: name}, nil
}

// Lock waits for the named lock until ctx ends.
func (s *Store) Lock(ctx context.Context, name string) (*Lock, error) {
	for {
		l, err := s.TryLock(name)
		if !errors.Is(err, ErrLocked) {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for lock %s: %w", name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Unlock releases the lock. It is safe to call more than once.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Truncate(0)
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	cerr := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("unlock %s: %w", l.name, err)
	}
	if cerr != nil {
		return fmt.Errorf("unlock %s: %w", l.name, cerr)
	}
	return nil
}

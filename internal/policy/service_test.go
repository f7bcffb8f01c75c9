package policy

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/store"
)

// fakeClock is a settable clock for services.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// client is a policy client keeping one connection, as Postfix does.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialPolicy(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *client) ask(r *Request) string {
	c.t.Helper()
	c.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.c.Write(r.AppendEncode(nil)); err != nil {
		c.t.Fatal(err)
	}
	return readReply(c.t, c.br)
}

func startService(t *testing.T, cfg Config, clock *fakeClock) *Service {
	t.Helper()
	s, err := NewService(cfg, Options{Log: slog.New(slog.DiscardHandler), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestServiceBlockRecordedAndLifted(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.Listen = []string{"tcp:127.0.0.1:0"}
	cfg.StateDir = dir
	clock := &fakeClock{t: t0}
	s := startService(t, cfg, clock)
	defer s.Stop()
	c := dialPolicy(t, s.Addrs()[0].String())
	for i, ip := range []string{"192.0.2.1", "198.51.100.1", "203.0.113.1"} {
		r := rcpt("victim@lab.test", fmt.Sprint(i), "x@e.test")
		r.ClientAddress = ip
		c.ask(r)
	}
	blockedReply := "action=REJECT " + cfg.Replies.Blocked
	if got := c.ask(rcpt("victim@lab.test", "9", "x@e.test")); got != blockedReply {
		t.Fatalf("blocked login got %q", got)
	}
	st, err := store.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	var b store.Block
	var ok bool
	for deadline := time.Now().Add(5 * time.Second); !ok && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, ok, err = st.IsBlocked(ctx, "victim@lab.test")
	}
	if !ok || b.Source != "policy" || b.IncidentID == 0 {
		t.Fatalf("store block = %+v, %v, %v", b, ok, err)
	}
	inc, acts, err := st.GetIncident(ctx, b.IncidentID)
	if err != nil || inc.Login != "victim@lab.test" || len(acts) != 1 || !acts[0].At.Equal(t0) {
		t.Fatalf("incident = %+v %+v %v", inc, acts, err)
	}
	// Still blocked after a sync, from a clean address, a day later.
	clock.Add(24 * time.Hour)
	s.Sync(ctx)
	if got := c.ask(rcpt("victim@lab.test", "10", "x@e.test")); got != blockedReply {
		t.Fatalf("after sync got %q", got)
	}
	// A person lifts the block (saslguard account enable).
	if err := st.Unblock(ctx, "victim@lab.test"); err != nil {
		t.Fatal(err)
	}
	s.Sync(ctx)
	if got := c.ask(rcpt("victim@lab.test", "11", "x@e.test")); got != "action=DUNNO" {
		t.Fatalf("after enable got %q", got)
	}
	// A block made by another command (respond) is enforced too.
	st.Block(ctx, "other@lab.test", "respond", "spam run", 0)
	s.Sync(ctx)
	if got := c.ask(rcpt("other@lab.test", "12", "x@e.test")); got != blockedReply {
		t.Fatalf("respond's block got %q", got)
	}
}

func TestServiceSnapshotKeepsCounters(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.Listen = []string{"tcp:127.0.0.1:0"}
	cfg.StateDir = dir
	clock := &fakeClock{t: t0}
	s := startService(t, cfg, clock)
	c := dialPolicy(t, s.Addrs()[0].String())
	for i := 0; i < 3; i++ {
		if got := c.ask(rcpt("a@lab.test", fmt.Sprint(i), "x@e.test")); got != "action=DUNNO" {
			t.Fatalf("message %d: %q", i, got)
		}
	}
	s.Stop()
	if _, err := os.Stat(filepath.Join(dir, SnapshotFile)); err != nil {
		t.Fatalf("no snapshot: %v", err)
	}
	clock.Add(5 * time.Second)
	s2 := startService(t, cfg, clock)
	defer s2.Stop()
	c2 := dialPolicy(t, s2.Addrs()[0].String())
	if got := c2.ask(rcpt("a@lab.test", "4", "x@e.test")); got == "action=DUNNO" {
		t.Fatal("counters lost across restart: fourth message in the minute allowed")
	}
	if got := c2.ask(rcpt("b@lab.test", "5", "x@e.test")); got != "action=DUNNO" {
		t.Fatalf("other login: %q", got)
	}
}

func TestServiceCorruptSnapshotIgnored(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, SnapshotFile), []byte("{not json"), 0o600)
	cfg := testConfig()
	cfg.Listen = []string{"tcp:127.0.0.1:0"}
	cfg.StateDir = dir
	s := startService(t, cfg, &fakeClock{t: t0})
	defer s.Stop()
	if got := dialPolicy(t, s.Addrs()[0].String()).ask(rcpt("a@lab.test", "1", "x@e.test")); got != "action=DUNNO" {
		t.Fatalf("got %q", got)
	}
}

func TestServiceReload(t *testing.T) {
	cfg := testConfig()
	cfg.Listen = []string{"tcp:127.0.0.1:0"}
	s := startService(t, cfg, &fakeClock{t: t0})
	defer s.Stop()
	c := dialPolicy(t, s.Addrs()[0].String())
	if got := c.ask(rcpt("new@lab.test", "1", "x@e.test")); got != "action=DUNNO" {
		t.Fatalf("before reload: %q", got)
	}
	cfg.BlockedLogins = []string{"new@lab.test"}
	if err := s.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if got := c.ask(rcpt("new@lab.test", "2", "x@e.test")); got != "action=REJECT "+cfg.Replies.Blocked {
		t.Fatalf("after reload: %q", got)
	}
	bad := cfg
	bad.MaxConnections = 0
	if err := s.Reload(bad); err == nil {
		t.Fatal("invalid config accepted on reload")
	}
}

// TestServiceLiftResetsCounters: after a person lifts a block, the counts
// that tripped it must not block the login again at its next message.
func TestServiceLiftResetsCounters(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.Listen = []string{"tcp:127.0.0.1:0"}
	cfg.StateDir = dir
	clock := &fakeClock{t: t0}
	s := startService(t, cfg, clock)
	defer s.Stop()
	c := dialPolicy(t, s.Addrs()[0].String())
	ask := func(instance, ip string) string {
		r := rcpt("victim@lab.test", instance, "x@e.test")
		r.ClientAddress = ip
		return c.ask(r)
	}
	for i, ip := range []string{"192.0.2.1", "198.51.100.1", "203.0.113.1"} {
		ask(fmt.Sprint(i), ip)
	}
	ctx := context.Background()
	st, err := store.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	waitFor(t, "block in store", func() bool { _, ok, _ := st.IsBlocked(ctx, "victim@lab.test"); return ok })
	s.Sync(ctx)
	if err := st.Unblock(ctx, "victim@lab.test"); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute)
	s.Sync(ctx)
	if got := ask("9", "192.0.2.1"); got != "action=DUNNO" {
		t.Fatalf("first message after the lift: %q", got)
	}
	if got := ask("10", "198.51.100.1"); got != "action=DUNNO" {
		t.Fatalf("second network after the lift: %q", got)
	}
}

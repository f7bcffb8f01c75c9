package policy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// startServer serves e on a loopback port and returns its address.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := Listen("tcp:127.0.0.1:0", "", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done; s.Close() })
	return ln.Addr().String()
}

func testServer(cfg Config, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e, _ := newTestEngine(cfg)
	clock := t0
	var mu sync.Mutex
	return &Server{
		Engine: e, Log: log, Metrics: NewMetrics(nil), Limits: DefaultLimits,
		IdleTimeout: 2 * time.Second, RequestTimeout: 300 * time.Millisecond, MaxConns: 8,
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); clock = clock.Add(time.Millisecond); return clock },
	}
}

func readReply(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading reply after %q: %v", b.String(), err)
		}
		if line == "\n" {
			return strings.TrimSuffix(b.String(), "\n")
		}
		b.WriteString(line)
	}
}

func TestServerConversation(t *testing.T) {
	addr := startServer(t, testServer(testConfig(), nil))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	var want []string
	var buf bytes.Buffer
	// Five messages pipelined in one write: the fourth and fifth are over
	// messages_per_minute (3).
	for i := 0; i < 5; i++ {
		buf.Write(rcpt("alice@lab.test", fmt.Sprint(i), "x@e.test").AppendEncode(nil))
		if i < 3 {
			want = append(want, "action=DUNNO")
		} else {
			want = append(want, "action=DEFER_IF_PERMIT 4.7.1 Sending limit reached, try again later")
		}
	}
	c.Write(buf.Bytes())
	for i, w := range want {
		if got := readReply(t, br); got != w {
			t.Fatalf("reply %d = %q; want %q", i, got, w)
		}
	}
}

func TestServerHostileClients(t *testing.T) {
	var logBuf syncBuffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	s := testServer(testConfig(), log)
	addr := startServer(t, s)
	tests := []struct {
		name    string
		send    string
		wantLog string
	}{
		{"no equals", "this is not a policy request\n\n", "reason=syntax"},
		{"line too long", "sender=" + strings.Repeat("x", 10000) + "\n\n", "reason=line_too_long"},
		{"too many attributes", strings.Repeat("a=b\n", 200) + "\n", "reason=too_many_attributes"},
		{"never sends the empty line", "request=smtpd_access_policy\nsasl_username=a\n", "reason=timeout"},
		{"binary", "\x00\xff\xfe=\n\n", "reason=syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write([]byte(tt.send))
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			start := time.Now()
			got, err := io.ReadAll(c) // the server answers and closes
			if err != nil {
				t.Fatalf("read: %v (server did not close)", err)
			}
			if string(got) != "action=DUNNO\n\n" {
				t.Fatalf("answer = %q; want DUNNO then close", got)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("took %v", d)
			}
			if !strings.Contains(logBuf.String(), tt.wantLog) {
				t.Fatalf("log lacks %q:\n%s", tt.wantLog, logBuf.String())
			}
		})
	}
	// The server still serves.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(rcpt("b@lab.test", "1", "x@e.test").AppendEncode(nil))
	if got := readReply(t, bufio.NewReader(c)); got != "action=DUNNO" {
		t.Fatalf("after hostile clients: %q", got)
	}
}

func TestServerIdleTimeout(t *testing.T) {
	s := testServer(testConfig(), nil)
	s.IdleTimeout = 200 * time.Millisecond
	addr := startServer(t, s)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	start := time.Now()
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err != io.EOF {
		t.Fatalf("idle read = %d, %v; want EOF", n, err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > time.Second {
		t.Fatalf("closed after %v; want about 200ms", d)
	}
}

func TestServerMaxConnections(t *testing.T) {
	s := testServer(testConfig(), nil)
	s.MaxConns = 4
	addr := startServer(t, s)
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 4; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		// A request proves the server took the connection.
		c.Write(rcpt("a@lab.test", fmt.Sprint(i), "x@e.test").AppendEncode(nil))
		readReply(t, bufio.NewReader(c))
		held = append(held, c)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("fifth connection read = %d, %v; want closed", n, err)
	}
	c.Close()
	held[0].Close()
	held = held[1:]
	// A slot is free again.
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(time.Second))
		c.Write(rcpt("b@lab.test", "x", "x@e.test").AppendEncode(nil))
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err == nil && line == "action=DUNNO\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no slot freed after a client left")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServerUnixSocket(t *testing.T) {
	s := testServer(testConfig(), nil)
	p := filepath.Join(t.TempDir(), "policy.sock")
	for round := 0; round < 2; round++ { // the second Listen replaces the stale socket
		ln, err := Listen("unix:"+p, "0660", "")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Serve(ctx, ln); close(done) }()
		c, err := net.Dial("unix", p)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(rcpt("a@lab.test", fmt.Sprint(round), "x@e.test").AppendEncode(nil))
		if got := readReply(t, bufio.NewReader(c)); got != "action=DUNNO" {
			t.Fatalf("unix reply = %q", got)
		}
		c.Close()
		if _, err := Listen("unix:"+p, "0660", ""); err == nil {
			t.Fatal("Listen took over a socket another server is serving")
		}
		cancel()
		<-done
	}
}

// TestMemoryBounded drives 2,000 active logins through the server and
// checks the heap stays small.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	cfg := testConfig()
	cfg.Rules = DefaultConfig().Rules
	s := testServer(cfg, nil)
	s.MaxConns = 64
	addr := startServer(t, s)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			for i := 0; i < 2000; i++ {
				r := rcpt(fmt.Sprintf("user%d@lab.test", (w*2000+i)%2000), fmt.Sprint(w, "-", i), "x@e.test")
				r.ClientAddress = fmt.Sprintf("10.%d.%d.1", w, i%200)
				c.Write(r.AppendEncode(nil))
				if _, err := br.ReadString('\n'); err != nil {
					t.Error(err)
					return
				}
				br.ReadString('\n')
			}
		}(w)
	}
	wg.Wait()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	lc := s.Engine.counters.(*LocalCounters)
	if lc.Len() != 2000 {
		t.Fatalf("tracked logins = %d; want 2000", lc.Len())
	}
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %d KiB for 2000 logins", grown/1024)
	if grown > 64<<20 {
		t.Fatalf("heap grew by %d MiB", grown>>20)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func testutilCount(c interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	if err := c.(prometheus.Metric).Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

func TestServerThousandConnections(t *testing.T) {
	s := testServer(testConfig(), nil)
	s.MaxConns = 100
	addr := startServer(t, s)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 1000; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	waitFor(t, "refusals", func() bool { return testutilCount(s.Metrics.connRefused) >= 900 })
	if got := testutilCount(s.Metrics.connRefused); got != 900 {
		t.Fatalf("refused %v; want 900", got)
	}
	var m dto.Metric
	s.Metrics.connections.Write(&m)
	if g := m.GetGauge().GetValue(); g != 100 {
		t.Fatalf("open connections gauge = %v; want 100", g)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	waitFor(t, "connections released", func() bool {
		var m dto.Metric
		s.Metrics.connections.Write(&m)
		return m.GetGauge().GetValue() == 0
	})
	c := dialPolicy(t, addr)
	if got := c.ask(rcpt("a@lab.test", "1", "x@e.test")); got != "action=DUNNO" {
		t.Fatalf("after the flood: %q", got)
	}
}

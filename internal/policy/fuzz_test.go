package policy

import (
	"context"
	"errors"
	"io"
	"net"
	"regexp"
	"syscall"
	"testing"
	"time"
)

var replyRE = regexp.MustCompile(`^(action=(DUNNO|DEFER_IF_PERMIT|HOLD|REJECT)( [ -~]+)?\n\n)*$`)

// FuzzServeConn feeds arbitrary bytes to a connection handler: it must not
// panic, and everything it writes must be well-formed replies.
func FuzzServeConn(f *testing.F) {
	f.Add([]byte(postfixRCPT + postfixRCPT))
	f.Add([]byte("sasl_username=a\nrecipient_count=3\nprotocol_state=DATA\n\n\n\nx"))
	f.Add([]byte("sasl_username=\r\n\r\n"))
	f.Add([]byte("garbage"))
	cfg := testConfig()
	cfg.BlockedLogins = []string{"blocked@lab.test"}
	s := testServer(cfg, discardLog())
	s.Limits = Limits{MaxLine: 256, MaxAttrs: 16, MaxBytes: 1024}
	s.RequestTimeout = 100 * time.Millisecond
	s.MaxConns = 1000
	ln, err := Listen("tcp:127.0.0.1:0", "", "")
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { s.Serve(ctx, ln); close(served) }()
	f.Cleanup(func() { cancel(); <-served; s.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		go func() {
			c.Write(data)
			c.(*net.TCPConn).CloseWrite()
		}()
		// The server answers what it can and closes at end of input.
		out, err := io.ReadAll(c)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("reading replies: %v (server did not close)", err)
		}
		if !replyRE.Match(out) {
			t.Fatalf("server wrote %q", out)
		}
		if testutilCount(s.Metrics.panics) != 0 {
			t.Fatal("handler panicked")
		}
	})
}

package watch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/follow"
)

// TestStatusBehindLogEnd: a daemon that has read a quiet log to its end is
// caught up, however old the newest event; bytes written and not yet read
// are what it is behind, per file. Asked over the status socket.
func TestStatusBehindLogEnd(t *testing.T) {
	dir, err := os.MkdirTemp("", "sgst") // short: a unix socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "mail.log")
	old := time.Now().Add(-time.Hour).UTC()
	var log bytes.Buffer
	for i := range 3 {
		fmt.Fprintf(&log, "%s mail postfix/submission/smtpd[%d]: 1A2B3C4D%d: client=unknown[192.0.2.%d], sasl_method=PLAIN, sasl_username=a@x.test\n",
			old.Add(time.Duration(i)*time.Second).Format(time.RFC3339), 100+i, i, i+1)
	}
	if err := os.WriteFile(path, log.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	g := NewGuarded(New(Config{Loc: time.UTC}))
	w := follow.NewTestWaker()
	fol := follow.New(follow.Config{Paths: []string{path}, Waker: w})
	g.SetBacklog(fol.Backlog)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = fol.Run(ctx, func(l follow.Line) error { g.Line(l.Path, l.Data); return nil })
	}()
	t.Cleanup(func() { cancel(); <-done })
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s")
	stop, err := g.ServeStatus(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ask := func() (Status, string) {
		t.Helper()
		st, err := ReadStatus(sock, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		WriteStatus(&b, st)
		return st, b.String()
	}

	st, text := ask()
	if !st.CaughtUp || len(st.Behind) != 1 || st.Behind[0].Bytes != 0 || st.Stats.Lines != 3 {
		t.Errorf("idle log read to its end: %+v", st)
	}
	if st.SinceNewestEvent < 3500 {
		t.Errorf("newest event %v ago, want about an hour", st.SinceNewestEvent)
	}
	if !strings.Contains(text, "caught up") || strings.Contains(text, "behind the clock") || strings.Contains(text, "behind the end") {
		t.Errorf("status of an idle log reads as lag:\n%s", text)
	}

	// Written, not read yet: that is what the daemon is behind.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("%s mail postfix/smtpd[200]: connect from unknown[192.0.2.9]\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprint(f, line, line)
	f.Close()
	st, text = ask()
	if st.CaughtUp || st.Behind[0].Bytes != int64(2*len(line)) {
		t.Errorf("after %d bytes appended: %+v", 2*len(line), st.Behind)
	}
	if want := fmt.Sprintf("%d bytes not read yet", 2*len(line)); !strings.Contains(text, want) || !strings.Contains(text, "behind the end of the log") {
		t.Errorf("status lacks %q:\n%s", want, text)
	}
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ = ask(); !st.CaughtUp || st.Stats.Lines != 5 {
		t.Errorf("after the poll: %+v", st)
	}
}

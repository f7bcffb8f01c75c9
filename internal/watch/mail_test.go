package watch

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRelay is a minimal SMTP server on loopback that keeps what it is sent.
type fakeRelay struct {
	l    net.Listener
	mu   sync.Mutex
	msgs []string
	rcpt []string
}

func startRelay(t *testing.T) *fakeRelay {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeRelay{l: l}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	return r
}

func (r *fakeRelay) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	w := func(s string) { c.Write([]byte(s + "\r\n")) }
	w("220 relay ESMTP")
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			w("250 relay")
		case strings.HasPrefix(cmd, "MAIL"):
			w("250 ok")
		case strings.HasPrefix(cmd, "RCPT"):
			r.mu.Lock()
			r.rcpt = append(r.rcpt, strings.TrimSpace(line))
			r.mu.Unlock()
			w("250 ok")
		case cmd == "DATA":
			w("354 go")
			var b strings.Builder
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			r.mu.Lock()
			r.msgs = append(r.msgs, b.String())
			r.mu.Unlock()
			w("250 queued")
		case cmd == "QUIT":
			w("221 bye")
			return
		default:
			w("502 no")
		}
	}
}

func TestMailerRelay(t *testing.T) {
	r := startRelay(t)
	m, err := NewMailer(context.Background(), MailConfig{From: "saslguard@mx1.example", To: "admin@example.org", Relay: r.l.Addr().String(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m.Sink(Alert{Login: "evil\r\nBcc: victim@example.net", Verdict: "compromised", Score: 12,
		At: time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC), Reasons: []string{"forged\nHeader: x"}, Command: "saslguard respond -- 'evil'"})
	m.Close()
	if m.Failed() != 0 || len(r.msgs) != 1 {
		t.Fatalf("failed %d, received %d", m.Failed(), len(r.msgs))
	}
	msg := r.msgs[0]
	head, body, _ := strings.Cut(msg, "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n") {
		if strings.HasPrefix(strings.ToLower(line), "bcc:") || strings.HasPrefix(line, "Header:") {
			t.Errorf("a login or reason added a header: %q", line)
		}
	}
	if !strings.Contains(head, "Subject: saslguard: COMPROMISED evil") || !strings.Contains(body, "saslguard respond") {
		t.Errorf("message:\n%s", msg)
	}
	if len(r.rcpt) != 1 || !strings.Contains(r.rcpt[0], "admin@example.org") {
		t.Errorf("rcpt %q", r.rcpt)
	}
}

func TestMailerRefusesBadAddresses(t *testing.T) {
	for _, c := range []MailConfig{
		{From: "a@b", To: "x\r\nBcc: y@z"},
		{From: "not an address", To: "a@b"},
		{From: "a@b", To: "c@d", Relay: "no-port"},
	} {
		if _, err := NewMailer(context.Background(), c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

package testlab

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// pipeClient returns a Client talking to a fake server that answers each
// command line with the next canned reply, and a channel of the lines it got.
func pipeClient(t *testing.T, replies ...string) (*Client, <-chan string) {
	t.Helper()
	cs, ss := net.Pipe()
	got := make(chan string, 16)
	go func() {
		defer close(got)
		defer ss.Close()
		r := bufio.NewReader(ss)
		for _, rep := range replies {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			got <- strings.TrimRight(line, "\r\n")
			if _, err := ss.Write([]byte(rep)); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { cs.Close() })
	return &Client{conn: cs, r: bufio.NewReader(cs), timeout: 5 * time.Second}, got
}

func TestReplyParsing(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    Reply
		wantErr string // substring; "" means no error
		reply   bool   // want a *ReplyError
	}{
		{name: "single", raw: "250 2.1.0 Ok\r\n", want: Reply{Code: 250, Lines: []string{"2.1.0 Ok"}}},
		{name: "multi", raw: "250-mail.lab.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n", want: Reply{Code: 250, Lines: []string{"mail.lab.test", "AUTH PLAIN LOGIN", "8BITMIME"}}},
		{name: "bare code", raw: "354\r\n", want: Reply{Code: 354, Lines: []string{""}}},
		{name: "LF only", raw: "221 bye\n", want: Reply{Code: 221, Lines: []string{"bye"}}},
		{name: "554 is a reply error", raw: "554 5.7.1 <x@example.org>: Relay access denied\r\n", want: Reply{Code: 554, Lines: []string{"5.7.1 <x@example.org>: Relay access denied"}}, wantErr: "554", reply: true},
		{name: "code changes", raw: "250-a\r\n251 b\r\n", wantErr: "code changed"},
		{name: "not a number", raw: "abc hello\r\n", wantErr: "malformed"},
		{name: "code out of range", raw: "999 x\r\n", wantErr: "malformed"},
		{name: "short line", raw: "25\r\n", wantErr: "malformed"},
		{name: "bad separator", raw: "250+x\r\n", wantErr: "malformed"},
		{name: "eof mid reply", raw: "250-a\r\n", wantErr: "EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, got := pipeClient(t, tc.raw)
			r, err := c.Cmd(context.Background(), "NOOP")
			if line := <-got; line != "NOOP" {
				t.Errorf("server got %q, want NOOP", line)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			var re *ReplyError
			if errors.As(err, &re) != tc.reply {
				t.Errorf("ReplyError: got %v, want %v", errors.As(err, &re), tc.reply)
			}
			if tc.wantErr == "" || tc.reply {
				if diff := cmp.Diff(tc.want, r); diff != "" {
					t.Errorf("reply (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestHostileInputRefused(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		call func(c *Client) error
	}{
		{"CRLF in MAIL FROM", func(c *Client) error { _, err := c.Mail(ctx, "a@b\r\nRCPT TO:<x@y>"); return err }},
		{"bracket in RCPT", func(c *Client) error { _, err := c.Rcpt(ctx, "x@y> NOTIFY=NEVER"); return err }},
		{"space in MAIL FROM", func(c *Client) error { _, err := c.Mail(ctx, "a@b SIZE=1"); return err }},
		{"LF in command", func(c *Client) error { _, err := c.Cmd(ctx, "NOOP\nQUIT"); return err }},
		{"NUL in command", func(c *Client) error { _, err := c.Cmd(ctx, "NOOP\x00"); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, got := pipeClient(t, "250 ok\r\n")
			if err := tc.call(c); err == nil {
				t.Fatal("hostile argument accepted")
			}
			c.Close()
			if line, ok := <-got; ok {
				t.Errorf("server received %q", line)
			}
		})
	}
}

func TestDataDotStuffing(t *testing.T) {
	cs, ss := net.Pipe()
	defer cs.Close()
	c := &Client{conn: cs, r: bufio.NewReader(cs), timeout: 5 * time.Second}
	body := make(chan string, 1)
	go func() {
		defer ss.Close()
		r := bufio.NewReader(ss)
		r.ReadString('\n') // DATA
		ss.Write([]byte("354 go ahead\r\n"))
		var b strings.Builder
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if line == ".\r\n" {
				break
			}
			b.WriteString(line)
		}
		body <- b.String()
		ss.Write([]byte("250 2.0.0 Ok: queued as 4PbC4x469Jz3tBr\r\n"))
	}()
	r, err := c.Data(context.Background(), []byte("Subject: x\n\n.hidden\r\nline\n."))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := <-body, "Subject: x\r\n\r\n..hidden\r\nline\r\n..\r\n"; got != want {
		t.Errorf("server got %q, want %q", got, want)
	}
	if id := QueueID(r); id != "4PbC4x469Jz3tBr" {
		t.Errorf("QueueID = %q", id)
	}
}

func TestQueueID(t *testing.T) {
	for _, tc := range []struct {
		text, want string
	}{
		{"2.0.0 Ok: queued as 8A1A2B830F", "8A1A2B830F"},
		{"2.0.0 Ok: queued as 4PbC4x469Jz3tBr extra", "4PbC4x469Jz3tBr"},
		{"2.0.0 Ok", ""},
		{"", ""},
	} {
		if got := QueueID(Reply{Code: 250, Lines: []string{tc.text}}); got != tc.want {
			t.Errorf("QueueID(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestDialRefusesNonLoopback(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ addr, local string }{
		{"192.0.2.1:25", "127.0.0.66"},
		{"127.0.0.1:25", "192.0.2.7"},
		{"[2001:db8::1]:25", "127.0.0.66"},
		{"mail.example.org:25", "127.0.0.66"},
	} {
		if _, err := DialSMTP(ctx, tc.addr, DialOpts{LocalIP: tc.local}); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("DialSMTP(%s from %s): %v, want a loopback refusal", tc.addr, tc.local, err)
		}
	}
}

func TestValidLoginAndPassword(t *testing.T) {
	tests := []struct {
		login, pw string
		ok        bool
	}{
		{"alice@lab.test", "s3cret", true},
		{"news.letter+x@lab.test", "p w", true},
		{"alice", "pw", false},
		{"@lab.test", "pw", false},
		{"a@b@c", "pw", false},
		{"al ice@lab.test", "pw", false},
		{"alice@lab.test\nbob@lab.test", "pw", false},
		{"alice:x@lab.test", "pw", false},
		{"../../etc@lab.test", "pw", false},
		{"alice@lab.test", "pw:uid", false},
		{"alice@lab.test", "pw\nbob@lab.test:{PLAIN}x", false},
		{"alice@lab.test", "", false},
		{"ålice@lab.test", "pw", false},
	}
	for _, tc := range tests {
		line, err := passwdLine(tc.login, tc.pw)
		if (err == nil) != tc.ok {
			t.Errorf("passwdLine(%q, %q): err %v, want ok=%v", tc.login, tc.pw, err, tc.ok)
		}
		if err == nil && strings.Count(line, "\n") != 0 {
			t.Errorf("passwdLine(%q) = %q holds a newline", tc.login, line)
		}
	}
}

func TestBuildMessageHeaders(t *testing.T) {
	msg := string(buildMessage(SendOpts{From: "a@b.example", To: []string{"c@d.example"}, Subject: "hi\r\nBcc: evil@x.example", LocalIP: "127.0.0.9"}))
	head, _, _ := strings.Cut(msg, "\n\n")
	for _, line := range strings.Split(head, "\n") {
		if strings.HasPrefix(line, "Bcc:") {
			t.Fatalf("subject injected a header: %q", head)
		}
	}
	if !strings.Contains(head, "Subject: hi  Bcc: evil@x.example") {
		t.Errorf("subject not kept on one line: %q", head)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"zero", Options{}, true},
		{"extra main", Options{ExtraMain: []string{"smtpd_banner = $myhostname ESMTP"}, Relayhost: "[127.0.0.1]:2525", FilterSyslogName: "postfix/10025"}, true},
		{"newline in extra main", Options{ExtraMain: []string{"a = b\nmynetworks = 0.0.0.0/0"}}, false},
		{"no name", Options{ExtraMain: []string{"= x"}}, false},
		{"no equals", Options{ExtraMain: []string{"mynetworks"}}, false},
		{"space in relayhost", Options{Relayhost: "[127.0.0.1]:25 x"}, false},
		{"newline in syslog name", Options{FilterSyslogName: "postfix\nx"}, false},
	}
	for _, tc := range tests {
		if err := tc.o.validate(); (err == nil) != tc.ok {
			t.Errorf("%s: validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

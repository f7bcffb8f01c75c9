package testlab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// IMAPConn is a logged-in IMAP session with the lab's Dovecot, enough for a
// test to hold a session open and see it end (doveadm kick).
type IMAPConn struct {
	conn net.Conn
	r    *bufio.Reader
	tag  int
}

// ErrIMAPClosed reports that the server ended the session (BYE or EOF).
var ErrIMAPClosed = errors.New("imap session closed by server")

// IMAPLogin connects from localIP (loopback) and logs in with LOGIN.
func (l *Lab) IMAPLogin(ctx context.Context, localIP, login, password string) (*IMAPConn, error) {
	if l.ports.IMAP == 0 {
		return nil, errors.New("imap login: IMAP is off in this lab (Options.NoIMAP)")
	}
	for _, s := range []string{login, password} {
		if strings.ContainsAny(s, "\"\\\r\n\x00") {
			return nil, errors.New("imap login: login or password holds a quote, backslash or line break")
		}
	}
	if localIP == "" {
		localIP = "127.0.0.2"
	}
	lip := net.ParseIP(localIP)
	if lip == nil || !lip.IsLoopback() {
		return nil, fmt.Errorf("imap login: local address %q is not a loopback address", localIP)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: lip}, Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", l.IMAPAddr())
	if err != nil {
		return nil, fmt.Errorf("imap dial: %w", err)
	}
	c := &IMAPConn{conn: conn, r: bufio.NewReader(conn)}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	greeting, err := c.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(greeting, "* OK") {
		conn.Close()
		return nil, fmt.Errorf("imap greeting %q: %w", strings.TrimSpace(greeting), err)
	}
	if err := c.command(fmt.Sprintf("LOGIN \"%s\" \"%s\"", login, password)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("imap login: %w", err)
	}
	return c, nil
}

// command sends one tagged command and reads to its tagged reply.
func (c *IMAPConn) command(cmd string) error {
	c.tag++
	tag := fmt.Sprintf("a%d", c.tag)
	c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.conn.Write([]byte(tag + " " + cmd + "\r\n")); err != nil {
		return fmt.Errorf("%w: %v", ErrIMAPClosed, err)
	}
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("%w: %v", ErrIMAPClosed, err)
		}
		if strings.HasPrefix(line, "* BYE") {
			return fmt.Errorf("%w: %s", ErrIMAPClosed, strings.TrimSpace(line))
		}
		if rest, ok := strings.CutPrefix(line, tag+" "); ok {
			if strings.HasPrefix(rest, "OK") {
				return nil
			}
			return fmt.Errorf("imap %s", strings.TrimSpace(rest))
		}
	}
}

// Noop sends NOOP; after a kick it returns an error wrapping ErrIMAPClosed.
func (c *IMAPConn) Noop() error { return c.command("NOOP") }

// Close drops the connection.
func (c *IMAPConn) Close() error { return c.conn.Close() }

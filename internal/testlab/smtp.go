package testlab

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// A small SMTP client for driving the lab. net/smtp refuses AUTH PLAIN
// without TLS and hides the replies; tests need both the plaintext AUTH a
// spammer uses and every reply (a 554 at RCPT, the queue id after DATA).

// Service names a lab listener.
type Service int

const (
	// Submission is the AUTH listener without TLS (the default).
	Submission Service = iota
	// SMTPS is the implicit-TLS AUTH listener (Options.SMTPS).
	SMTPS
	// SMTP is the port-25 equivalent: no AUTH.
	SMTP
)

func (s Service) String() string {
	switch s {
	case Submission:
		return "submission"
	case SMTPS:
		return "smtps"
	case SMTP:
		return "smtp"
	}
	return "service(" + strconv.Itoa(int(s)) + ")"
}

// Reply is one SMTP reply.
type Reply struct {
	Code  int
	Lines []string // text of each line, without the code and separator
}

// Text joins the reply's lines with spaces.
func (r Reply) Text() string { return strings.Join(r.Lines, " ") }

func (r Reply) String() string { return strconv.Itoa(r.Code) + " " + r.Text() }

// ReplyError is a 4xx or 5xx reply to a command.
type ReplyError struct {
	Command string // the verb, e.g. "RCPT"; "AUTH" never carries credentials
	Reply   Reply
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("smtp %s: %s", strings.ToLower(e.Command), e.Reply)
}

// Client is one SMTP session with the lab. It is not safe for concurrent use.
type Client struct {
	conn    net.Conn
	r       *bufio.Reader
	timeout time.Duration
	// Greeting is the server's 220 banner; Ehlo the EHLO reply.
	Greeting Reply
	Ehlo     Reply
}

// DialOpts says how to open a session.
type DialOpts struct {
	Service Service
	// LocalIP is the loopback source address, e.g. "127.0.0.66" (default
	// 127.0.0.2, outside mynetworks, so the client looks remote).
	LocalIP string
	// Helo is the EHLO name (default "client.example").
	Helo string
	// Timeout bounds each command (default 30s).
	Timeout time.Duration
}

// Dial connects to a lab listener from a loopback source address, reads the
// greeting and sends EHLO.
func (l *Lab) Dial(ctx context.Context, o DialOpts) (*Client, error) {
	var addr string
	switch o.Service {
	case Submission:
		addr = l.SubmissionAddr()
	case SMTPS:
		addr = l.SMTPSAddr()
	case SMTP:
		addr = l.SMTPAddr()
	}
	if addr == "" {
		return nil, fmt.Errorf("dial %s: listener not enabled in this lab", o.Service)
	}
	return DialSMTP(ctx, addr, o)
}

// DialSMTP connects to any loopback SMTP server (o.Service only selects
// implicit TLS when SMTPS).
func DialSMTP(ctx context.Context, addr string, o DialOpts) (*Client, error) {
	if o.LocalIP == "" {
		o.LocalIP = "127.0.0.2"
	}
	if o.Helo == "" {
		o.Helo = "client.example"
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if err := checkLine(o.Helo); err != nil {
		return nil, fmt.Errorf("helo: %w", err)
	}
	lip := net.ParseIP(o.LocalIP)
	if lip == nil || !lip.IsLoopback() {
		return nil, fmt.Errorf("dial %s: local address %q is not a loopback address", addr, o.LocalIP)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("dial %s: refusing a non-loopback server", addr)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: lip}, Timeout: o.Timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s from %s: %w", addr, o.LocalIP, err)
	}
	if o.Service == SMTPS {
		// The lab's certificate is self-signed and the peer is loopback.
		conn = tls.Client(conn, &tls.Config{ServerName: Hostname, InsecureSkipVerify: true}) //nolint:gosec // loopback test server
	}
	c := &Client{conn: conn, r: bufio.NewReader(conn), timeout: o.Timeout}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c.deadline()
	if c.Greeting, err = c.readReply(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("read greeting from %s: %w", addr, err)
	}
	if c.Greeting.Code != 220 {
		conn.Close()
		return nil, &ReplyError{Command: "CONNECT", Reply: c.Greeting}
	}
	if c.Ehlo, err = c.cmd(ctx, "EHLO", "EHLO "+o.Helo); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) deadline() { c.conn.SetDeadline(time.Now().Add(c.timeout)) }

// LocalAddr is the client's end of the connection.
func (c *Client) LocalAddr() net.Addr { return c.conn.LocalAddr() }

func checkLine(s string) error {
	if strings.ContainsAny(s, "\r\n\x00") {
		return errors.New("contains CR, LF or NUL")
	}
	return nil
}

func (c *Client) readReply() (Reply, error) {
	var r Reply
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return r, fmt.Errorf("read reply: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 3 {
			return r, fmt.Errorf("malformed reply line %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil || code < 100 || code > 599 {
			return r, fmt.Errorf("malformed reply line %q", line)
		}
		if r.Code != 0 && code != r.Code {
			return r, fmt.Errorf("reply code changed within a reply: %q", line)
		}
		r.Code = code
		r.Lines = append(r.Lines, strings.TrimSpace(line[min(4, len(line)):]))
		if len(line) == 3 || line[3] == ' ' {
			return r, nil
		}
		if line[3] != '-' {
			return r, fmt.Errorf("malformed reply line %q", line)
		}
	}
}

// cmd sends one command line and reads the reply; 4xx and 5xx become a
// *ReplyError (with the reply also returned).
func (c *Client) cmd(ctx context.Context, verb, line string) (Reply, error) {
	if err := checkLine(line); err != nil {
		return Reply{}, fmt.Errorf("smtp %s: %w", strings.ToLower(verb), err)
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c.deadline()
	if _, err := c.conn.Write([]byte(line + "\r\n")); err != nil {
		return Reply{}, fmt.Errorf("smtp %s: write: %w", strings.ToLower(verb), err)
	}
	r, err := c.readReply()
	if err != nil {
		return r, fmt.Errorf("smtp %s: %w", strings.ToLower(verb), err)
	}
	if r.Code >= 400 {
		return r, &ReplyError{Command: verb, Reply: r}
	}
	return r, nil
}

// Cmd sends an arbitrary command line (no CR or LF) and returns the reply.
func (c *Client) Cmd(ctx context.Context, line string) (Reply, error) {
	verb, _, _ := strings.Cut(line, " ")
	return c.cmd(ctx, strings.ToUpper(verb), line)
}

// Auth authenticates with AUTH PLAIN and an initial response. A refused
// login is a *ReplyError with code 535.
func (c *Client) Auth(ctx context.Context, login, password string) (Reply, error) {
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + login + "\x00" + password))
	return c.cmd(ctx, "AUTH", "AUTH PLAIN "+resp)
}

// AuthLogin authenticates with AUTH LOGIN (two 334 prompts).
func (c *Client) AuthLogin(ctx context.Context, login, password string) (Reply, error) {
	r, err := c.cmd(ctx, "AUTH", "AUTH LOGIN")
	if err != nil {
		return r, err
	}
	for _, s := range []string{login, password} {
		if r.Code != 334 {
			return r, &ReplyError{Command: "AUTH", Reply: r}
		}
		if r, err = c.cmd(ctx, "AUTH", base64.StdEncoding.EncodeToString([]byte(s))); err != nil {
			return r, err
		}
	}
	return r, nil
}

func checkPath(addr string) error {
	if err := checkLine(addr); err != nil {
		return err
	}
	if strings.ContainsAny(addr, "<> ") {
		return errors.New("contains <, > or a space")
	}
	return nil
}

// Mail sends MAIL FROM:<from>.
func (c *Client) Mail(ctx context.Context, from string) (Reply, error) {
	if err := checkPath(from); err != nil {
		return Reply{}, fmt.Errorf("smtp mail from %q: %w", from, err)
	}
	return c.cmd(ctx, "MAIL", "MAIL FROM:<"+from+">")
}

// Rcpt sends RCPT TO:<to>.
func (c *Client) Rcpt(ctx context.Context, to string) (Reply, error) {
	if err := checkPath(to); err != nil {
		return Reply{}, fmt.Errorf("smtp rcpt to %q: %w", to, err)
	}
	return c.cmd(ctx, "RCPT", "RCPT TO:<"+to+">")
}

// Data sends DATA and the message (line ends normalised to CRLF, dots
// stuffed) and returns the final reply ("250 2.0.0 Ok: queued as QID").
func (c *Client) Data(ctx context.Context, msg []byte) (Reply, error) {
	r, err := c.cmd(ctx, "DATA", "DATA")
	if err != nil {
		return r, err
	}
	if r.Code != 354 {
		return r, &ReplyError{Command: "DATA", Reply: r}
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c.deadline()
	w := bufio.NewWriter(c.conn)
	for _, line := range bytes.Split(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n")), []byte("\n")) {
		if len(line) > 0 && line[0] == '.' {
			w.WriteByte('.')
		}
		w.Write(line)
		w.WriteString("\r\n")
	}
	w.WriteString(".\r\n")
	if err := w.Flush(); err != nil {
		return Reply{}, fmt.Errorf("smtp data: write: %w", err)
	}
	r, err = c.readReply()
	if err != nil {
		return r, fmt.Errorf("smtp data: %w", err)
	}
	if r.Code >= 400 {
		return r, &ReplyError{Command: "DATA", Reply: r}
	}
	return r, nil
}

// Rset sends RSET.
func (c *Client) Rset(ctx context.Context) (Reply, error) { return c.cmd(ctx, "RSET", "RSET") }

// Quit sends QUIT and closes the connection.
func (c *Client) Quit(ctx context.Context) error {
	_, err := c.cmd(ctx, "QUIT", "QUIT")
	c.conn.Close()
	return err
}

// Close drops the connection without QUIT.
func (c *Client) Close() error { return c.conn.Close() }

// QueueID extracts the queue id from a "250 2.0.0 Ok: queued as QID" reply.
func QueueID(r Reply) string {
	_, after, ok := strings.Cut(r.Text(), "queued as ")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(after, " ")
	return id
}

// SendOpts describes one message submission.
type SendOpts struct {
	Service  Service // default Submission
	LocalIP  string  // loopback source address, default 127.0.0.2
	Helo     string
	Login    string // empty: no AUTH
	Password string
	From     string   // envelope sender
	To       []string // envelope recipients
	// Message is the full message (headers and body). When nil, a short
	// message is built from Subject and Body.
	Message []byte
	Subject string
	Body    string
}

// SendResult holds every reply of a Send.
type SendResult struct {
	Auth    Reply
	Mail    Reply
	Rcpt    []Reply // one per recipient, in order
	Data    Reply
	QueueID string // from the DATA reply; "" when nothing was queued
}

// Send opens a session, optionally authenticates, submits one message and
// quits. A refused AUTH, MAIL or DATA ends it with a *ReplyError. Refused
// recipients do not stop the others: the message goes to the accepted ones,
// and the first refusal is returned as a *ReplyError along with the result
// (so a test can assert on a RCPT 554 while other recipients got through).
func (l *Lab) Send(ctx context.Context, o SendOpts) (SendResult, error) {
	var res SendResult
	if len(o.To) == 0 {
		return res, errors.New("send: no recipients")
	}
	c, err := l.Dial(ctx, DialOpts{Service: o.Service, LocalIP: o.LocalIP, Helo: o.Helo})
	if err != nil {
		return res, err
	}
	defer c.Close()
	if o.Login != "" {
		if res.Auth, err = c.Auth(ctx, o.Login, o.Password); err != nil {
			c.Quit(ctx)
			return res, err
		}
	}
	if res.Mail, err = c.Mail(ctx, o.From); err != nil {
		c.Quit(ctx)
		return res, err
	}
	var rcptErr error
	accepted := 0
	for _, to := range o.To {
		r, err := c.Rcpt(ctx, to)
		res.Rcpt = append(res.Rcpt, r)
		if err != nil {
			var re *ReplyError
			if !errors.As(err, &re) {
				return res, err
			}
			if rcptErr == nil {
				rcptErr = err
			}
			continue
		}
		accepted++
	}
	if accepted == 0 {
		c.Quit(ctx)
		return res, rcptErr
	}
	msg := o.Message
	if msg == nil {
		msg = buildMessage(o)
	}
	if res.Data, err = c.Data(ctx, msg); err != nil {
		c.Quit(ctx)
		return res, err
	}
	res.QueueID = QueueID(res.Data)
	c.Quit(ctx)
	return res, rcptErr
}

func buildMessage(o SendOpts) []byte {
	subj := o.Subject
	if subj == "" {
		subj = "test message"
	}
	now := time.Now()
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: <%s>\n", sanitizeHeader(o.From))
	fmt.Fprintf(&b, "To: <%s>\n", sanitizeHeader(strings.Join(o.To, ">, <")))
	fmt.Fprintf(&b, "Subject: %s\n", sanitizeHeader(subj))
	fmt.Fprintf(&b, "Date: %s\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%d.%s@%s>\n", now.UnixNano(), strings.ReplaceAll(o.LocalIP, ".", "-"), "client.example")
	b.WriteString("MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n")
	body := o.Body
	if body == "" {
		body = "This is a saslguard test lab message."
	}
	b.WriteString(body)
	b.WriteString("\n")
	return b.Bytes()
}

func sanitizeHeader(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/smtp"
	"os/exec"
	"strings"
	"time"

	"github.com/saslguard/saslguard/internal/report"
)

// Mailer mails alerts, through an SMTP relay or the local sendmail, from a
// bounded queue so that a slow relay never stops the log reader. Mind that
// the local queue may be the one that is held or blocklisted: a relay of
// another host is the safer choice during an incident.
type Mailer struct {
	*sender
	from, to string
	relay    string // host:port; "" uses the sendmail program
	sendmail string
	timeout  time.Duration
}

// MailConfig configures a Mailer.
type MailConfig struct {
	From, To string
	Relay    string // host:port of an SMTP relay; empty: Sendmail
	Sendmail string // default /usr/sbin/sendmail
	Timeout  time.Duration
	Logger   *slog.Logger
}

// NewMailer checks the addresses and starts the sender.
func NewMailer(ctx context.Context, c MailConfig) (*Mailer, error) {
	for _, a := range []string{c.From, c.To} {
		if _, err := mail.ParseAddress(a); err != nil || strings.ContainsAny(a, "\r\n<>") {
			return nil, fmt.Errorf("mail address %q: need a plain address like alerts@example.org", a)
		}
	}
	if c.Relay != "" {
		if _, _, err := net.SplitHostPort(c.Relay); err != nil {
			return nil, fmt.Errorf("mail relay %q: need host:port", c.Relay)
		}
	}
	if c.Sendmail == "" {
		c.Sendmail = "/usr/sbin/sendmail"
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	m := &Mailer{from: c.From, to: c.To, relay: c.Relay, sendmail: c.Sendmail, timeout: c.Timeout}
	m.sender = startSender(ctx, "mail alert", c.Logger, m.send)
	return m, nil
}

// Message renders an alert as a mail. Everything taken from the log goes
// through report.Safe, and the subject is one line: a login name cannot add
// header lines.
func (m *Mailer) Message(a Alert) []byte {
	var b bytes.Buffer
	subject := fmt.Sprintf("saslguard: %s %s", strings.ToUpper(a.Verdict), report.Safe(a.Login, 100))
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nAuto-Submitted: auto-generated\r\n\r\n",
		m.from, m.to, oneLine(subject), time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "%s was found %s (score %d) at %s.\r\n", report.Safe(a.Login, 300), a.Verdict, a.Score, a.At.UTC().Format(time.RFC3339))
	if !a.Start.IsZero() {
		fmt.Fprintf(&b, "Likely start: %s\r\n", a.Start.UTC().Format(time.RFC3339))
	}
	b.WriteString("\r\n")
	for _, r := range a.Reasons {
		fmt.Fprintf(&b, "- %s\r\n", oneLine(report.Safe(r, 400)))
	}
	if a.Allowlisted {
		b.WriteString("\r\nThe login is allowlisted: it is not contained.\r\n")
	}
	fmt.Fprintf(&b, "\r\nTo clean up: %s\r\n", oneLine(a.Command))
	// dots at the start of a line: SMTP's DATA writer escapes them, and
	// sendmail runs with -i
	return b.Bytes()
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

func (m *Mailer) send(ctx context.Context, a Alert) error {
	msg := m.Message(a)
	if m.relay != "" {
		return m.sendSMTP(msg)
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	// sendmail -i: a lone dot is no end of input; the recipient on the
	// command line after --, never parsed from the message
	cmd := exec.CommandContext(ctx, m.sendmail, "-i", "-f", m.from, "--", m.to)
	cmd.Stdin = bytes.NewReader(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n")))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", m.sendmail, err, bytes.TrimSpace(out))
	}
	return nil
}

func (m *Mailer) sendSMTP(msg []byte) error {
	conn, err := net.DialTimeout("tcp", m.relay, m.timeout)
	if err != nil {
		return fmt.Errorf("mail relay: %w", err)
	}
	_ = conn.SetDeadline(time.Now().Add(m.timeout))
	host, _, _ := net.SplitHostPort(m.relay)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail relay: %w", err)
	}
	defer c.Close()
	if err := c.Mail(m.from); err != nil {
		return fmt.Errorf("mail relay: MAIL: %w", err)
	}
	if err := c.Rcpt(m.to); err != nil {
		return fmt.Errorf("mail relay: RCPT: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail relay: DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("mail relay: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail relay: %w", err)
	}
	if err := c.Quit(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("mail relay: QUIT: %w", err)
	}
	return nil
}

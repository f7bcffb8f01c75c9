package respond

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/mtablock/postfixblock"
	"github.com/saslguard/saslguard/internal/testlab"
)

// TestLabHostileLogins responds to logins whose names are hostile to a map
// file or a shell, found in the real log and named on the command line: each
// is stopped where that can be done safely (the account disable, the hold and
// quarantine by queue file), the map holds only names it can hold, and the
// rest is reported, never written.
func TestLabHostileLogins(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Dovecot's auth_username_chars lets few hostile names authenticate: a
	// leading '-' does. The others come from forged log lines (anyone can
	// write to syslog) and from the command line.
	const dash, quote, subst, shell = "-rf@lab.test", "o'brien@lab.test", "$(reboot)@lab.test", "x|y&z$@lab.test"
	users := map[string]string{dash: "weak1"}
	var out bytes.Buffer
	lab, env := labEnv(t, ctx, users, Settings{Allow: map[string]bool{"bob@lab.test": true}}, &out)
	nDash := 3 + spamRun(t, ctx, lab, dash, 3, "h")
	if _, err := sendAs(ctx, lab, "bob@lab.test", "127.0.0.10"); err != nil {
		t.Fatal(err)
	}
	settle(t, ctx, lab, nDash+1)
	stamp := time.Now().Format(time.Stamp)
	var forged strings.Builder
	for i, l := range []string{quote, subst, shell, "a b@lab.test", "#x@lab.test"} {
		fmt.Fprintf(&forged, "%s mail postfix/submission/smtpd[%d]: %010X: client=unknown[127.0.0.%d], sasl_method=PLAIN, sasl_username=%s\n", stamp, 99990+i, 0xABC0+i, 90+i, l)
	}
	lf, err := os.OpenFile(lab.LogPath(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	lf.WriteString(forged.String())
	lf.Close()
	named := []string{"evil\n@lab.test REJECT", "bob@lab.test", dash, quote, subst, shell, "a b@lab.test", "#x@lab.test"}
	targets, err := ScanTargets(ctx, named, ScanOptions{Logs: []string{lab.LogPath()}, Year: time.Now().Year(), Loc: time.Local})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := env.Run(ctx, targets, true)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Attention() {
		t.Error("logins not blocked at the MTA, yet no attention asked")
	}
	got := map[string]Outcome{}
	for _, o := range sum.Outcomes {
		got[o.Login] = o
	}
	if o := got["evil\n@lab.test REJECT"]; !strings.Contains(o.Skipped, "cannot be handled safely") {
		t.Errorf("control character login: %+v", o)
	}
	if o := got["bob@lab.test"]; !strings.Contains(o.Skipped, "allowlisted") {
		t.Errorf("allowlisted login: %+v", o)
	}
	if strings.Contains(out.String(), "evil\n") {
		t.Error("a raw newline of a login reached the output")
	}
	for _, c := range []struct {
		login             string
		blocked, disabled bool
		exported          int
	}{
		{dash, false, true, nDash},
		{quote, false, false, 0},
		{subst, false, false, 0},
		{shell, true, false, 0},
		{"a b@lab.test", false, false, 0},
		{"#x@lab.test", false, false, 0},
	} {
		o := got[c.login]
		if o.Skipped != "" || o.MTABlocked != c.blocked || o.Disabled != c.disabled || o.Exported != c.exported || (!c.blocked && o.MTANote == "") {
			t.Errorf("%s: %+v, want blocked %v, disabled %v, %d exported", c.login, o, c.blocked, c.disabled, c.exported)
		}
		// the registry says blocked only where the MTA block is in effect
		if _, ok, _ := env.Store.IsBlocked(ctx, c.login); ok != c.blocked {
			t.Errorf("%s in the registry: %v, want %v", c.login, ok, c.blocked)
		}
	}
	cl, err := lab.Dial(ctx, testlab.DialOpts{LocalIP: "127.0.0.80"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Auth(ctx, dash, users[dash])
	cl.Close()
	var re *testlab.ReplyError
	if !errors.As(err, &re) || re.Reply.Code != 535 {
		t.Errorf("%s AUTH after respond: %v, want 535", dash, err)
	}
	b, err := os.ReadFile(env.Map.Path())
	if err != nil {
		t.Fatal(err)
	}
	es, err := postfixblock.ParseMap(b)
	if err != nil || len(es) != 1 || es[0].Login != shell {
		t.Errorf("map entries %+v, %v; file:\n%s", es, err, b)
	}
	left := owners(t, ctx, env)
	if len(left) != 1 {
		t.Errorf("%d messages left, want bob's 1: %v", len(left), fmt.Sprint(left))
	}
}

package report

import (
	"os/exec"
	"strings"
	"testing"
)

func TestSafe(t *testing.T) {
	for in, want := range map[string]string{
		"alice@example.org":           "alice@example.org",
		"evil\x1b[31mred":             `evil\u001b[31mred`,
		"two\nlines\r":                `two\u000alines\u000d`,
		"bad\xffutf8":                 `bad\xffutf8`,
		"bidi\u202eoverride":          `bidi\u202eoverride`,
		"ünïcödé":                     "ünïcödé",
		strings.Repeat("x", 10) + "y": "xxxxx…",
	} {
		n := 100
		if strings.HasPrefix(in, "xxxxx") {
			n = 5
		}
		if got := Safe(in, n); got != want {
			t.Errorf("Safe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"alice@example.org": "alice@example.org",
		"a b":               `'a b'`,
		"x'; rm -rf / #":    `'x'\''; rm -rf / #'`,
		"-rf":               `'-rf'`,
		"$(reboot)":         `'$(reboot)'`,
		"":                  `''`,
		"new\nline":         `$'new\x0aline'`,
		"a\x1b[2Jb'\\":      `$'a\x1b[2Jb\'\\'`,
		"\xffbad":           `$'\xffbad'`,
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestShellQuoteNamesTheLogin: bash reads each quoted name back as the very
// bytes of the login, and the quoted form holds nothing a terminal acts on.
func TestShellQuoteNamesTheLogin(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	for _, login := range []string{
		"alice@example.org", "a b", "x'; rm -rf / #", "-rf", "$(reboot)", "`id`", "new\nline",
		"esc\x1b]0;title\x07", "rlo\u202etxt.exe", "bad\xff\xfeutf8", "back\\slash'quote", "tab\there", "ünïcode@exämple.org",
		strings.Repeat("long", 100),
	} {
		q := ShellQuote(login)
		if Safe(q, len(q)) != q {
			t.Errorf("ShellQuote(%q) = %q: not safe to print", login, q)
		}
		out, err := exec.Command(bash, "-c", "printf %s "+q).Output()
		if err != nil {
			t.Errorf("bash on %q: %v", q, err)
			continue
		}
		if string(out) != login {
			t.Errorf("bash reads %q as %q, want %q", q, out, login)
		}
	}
}

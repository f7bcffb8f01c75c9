package report

import (
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
		"new\nline":         `'new\u000aline'`,
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

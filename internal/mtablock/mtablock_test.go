package mtablock

import (
	"strings"
	"testing"
)

func TestValidLogin(t *testing.T) {
	tests := []struct {
		login string
		ok    bool
	}{
		{"alice@lab.test", true},
		{"Alice.Smith+tag@lab.test", true},
		{"d.weber", true},
		{"DOMAIN/user", true},
		{"", false},
		{"alice @lab.test", false},
		{"alice\n@lab.test REJECT x", false},
		{"alice\r", false},
		{"alice\t", false},
		{"\"alice\"@lab.test", false},
		{"'alice'", false},
		{"-alice", false},
		{"#alice", false},
		{"al#ice", false},
		{"alice,bob", false},
		{"a\\b", false},
		{"jörg@lab.test", false},
		{"alice\x00", false},
		{"alice\x7f", false},
		{strings.Repeat("a", 10*1024), false},
		{strings.Repeat("a", 255), true},
		{"{alice}", false},
	}
	for _, tt := range tests {
		why := ValidLogin(tt.login)
		if (why == "") != tt.ok {
			t.Errorf("ValidLogin(%.40q) = %q, want ok=%v", tt.login, why, tt.ok)
		}
	}
}

func TestValidText(t *testing.T) {
	for _, tt := range []struct {
		text string
		ok   bool
	}{
		{DefaultText, true},
		{"", false},
		{" padded", false},
		{"line\r\n250 ok", false},
		{"tab\there", false},
		{strings.Repeat("x", 201), false},
		{"ünïcode", false},
	} {
		if err := ValidText(tt.text); (err == nil) != tt.ok {
			t.Errorf("ValidText(%q) = %v, want ok=%v", tt.text, err, tt.ok)
		}
	}
}

func TestParseAction(t *testing.T) {
	for in, want := range map[string]Action{"": Reject, "REJECT": Reject, "421": TempFail, "tempfail": TempFail, "hold": Hold} {
		got, err := ParseAction(in)
		if err != nil || got != want {
			t.Errorf("ParseAction(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseAction("discard"); err == nil {
		t.Error("ParseAction(discard) accepted")
	}
}

func TestResultBlocked(t *testing.T) {
	if (Result{Written: true}).Blocked() {
		t.Error("written but not effective counts as blocked")
	}
	if !(Result{Written: true, Effective: true}).Blocked() {
		t.Error("written and effective is not blocked")
	}
}

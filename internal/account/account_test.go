package account

import (
	"strings"
	"testing"
)

func TestCheckLogin(t *testing.T) {
	for _, tt := range []struct {
		login string
		ok    bool
	}{
		{"alice@lab.test", true},
		{"jörg@lab.test", true},
		{"alice smith", true}, // backends add their own limits
		{"-alice", true},
		{"", false},
		{"a\nb", false},
		{"a\rb", false},
		{"a\x00b", false},
		{"a\x7fb", false},
		{"a\u0085b", false},
		{"a\u2028b", false},
		{"\xff\xfe", false},
		{strings.Repeat("a", MaxLoginLen), true},
		{strings.Repeat("a", MaxLoginLen+1), false},
	} {
		if err := CheckLogin(tt.login); (err == nil) != tt.ok {
			t.Errorf("CheckLogin(%.30q) = %v, want ok=%v", tt.login, err, tt.ok)
		}
	}
}

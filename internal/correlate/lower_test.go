package correlate

import (
	"bytes"
	"testing"

	"github.com/saslguard/saslguard/internal/event"
)

func TestLower(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"alice@lab.test", "alice@lab.test"},
		{"Alice@LAB.test", "alice@lab.test"},
		{"JÜRGEN@Example.DE", "jürgen@example.de"},
		{"jürgen@example.de", "jürgen@example.de"},
		{"ΣΩΚΡΆΤΗΣ", "σωκράτησ"}, // rune by rune, as strings.ToLower,
		// bytes that are not UTF-8 stay as they are: two hostile names
		// must not become one
		{"\xffA", "\xffa"},
		{"\xfeA", "\xfea"},
		{"A\xe2\x82", "a\xe2\x82"}, // cut rune at the end
		{"\xef\xbf\xbdX", "\xef\xbf\xbdx"},
	} {
		if got := lower(c.in); got != c.want {
			t.Errorf("lower(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := lower(c.want); got != c.want {
			t.Errorf("lower(%q) = %q: lower case is not a fixed point", c.want, got)
		}
	}
}

// TestNonASCIICapitals: a login written with non-ASCII capitals is one
// account whatever its case, Account finds it by any spelling, and the
// snapshot of it restores (it used to be rejected as "bad login").
func TestNonASCIICapitals(t *testing.T) {
	c := New(Config{})
	for i, l := range []string{"JÜRGEN@example.de", "jürgen@example.de", "jÜrgen@example.de"} {
		c.Add(&event.Event{Time: t0, Host: "mx1", PID: 10 + i, Kind: event.Client,
			QID: "ABC" + string(rune('0'+i)), Login: l, ClientIP: "198.51.100.7"})
	}
	c.Add(&event.Event{Time: t0, Kind: event.AuthFailure, Login: "\xffX", ClientIP: "203.0.113.1", Count: 1})
	c.Add(&event.Event{Time: t0, Kind: event.AuthFailure, Login: "\xfeX", ClientIP: "203.0.113.1", Count: 1})
	if n := len(c.accounts); n != 3 {
		t.Fatalf("%d accounts, want 3 (one for the three spellings, two hostile names)", n)
	}
	a := c.Account("JÜRGEN@EXAMPLE.DE")
	if a == nil || a.Login != "jürgen@example.de" || a.Sessions != 3 {
		t.Fatalf("Account by capitals: %+v", a)
	}
	var b bytes.Buffer
	if err := c.Snapshot(&b); err != nil {
		t.Fatal(err)
	}
	r, err := Restore(&b, Config{})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if a := r.Account("Jürgen@example.DE"); a == nil || a.Sessions != 3 {
		t.Errorf("restored account: %+v", a)
	}
	if r.Account("\xffx") == nil || r.Account("\xfex") == nil {
		t.Error("hostile names lost in the snapshot")
	}
}

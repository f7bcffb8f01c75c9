package postfixblock

import (
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/mtablock"
)

// FuzzRenderParse: any login and text either are refused, or render to a
// map that has exactly one entry line per entry and parses back the same.
func FuzzRenderParse(f *testing.F) {
	f.Add("alice@lab.test", "stolen login", 0)
	f.Add("a\nb REJECT", "x", 1)
	f.Add("#x", "y\r\n250 ok", 2)
	f.Fuzz(func(t *testing.T, login, text string, action int) {
		e := mtablock.Entry{Login: login, Text: text, Action: mtablock.Action(action % 3)}
		b, err := Render([]mtablock.Entry{e})
		if err != nil {
			return
		}
		body := strings.TrimPrefix(string(b), Header)
		if strings.Count(body, "\n") != 1 || !strings.HasPrefix(body, login+" ") {
			t.Fatalf("rendered %q", body)
		}
		got, err := ParseMap(b)
		if err != nil || len(got) != 1 || got[0] != e {
			t.Fatalf("round trip: %+v, %v", got, err)
		}
	})
}

// FuzzParseStat and FuzzParseHexAddr: no input panics.
func FuzzParseStat(f *testing.F) {
	f.Add("4242 (smtpd) S 9914 9914 9914 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0")
	f.Fuzz(func(t *testing.T, s string) {
		parseStat(s, time.Unix(0, 0), 100)
		parseHexAddr(s)
	})
}

// FuzzCheckConfig: no restriction list panics the check.
func FuzzCheckConfig(f *testing.F) {
	f.Add("yes", "check_sasl_access hash:/x, permit_sasl_authenticated", "permit_sasl_authenticated,reject")
	f.Fuzz(func(t *testing.T, auth, relay, rcpt string) {
		CheckConfig("hash:/x", map[string]string{"smtpd_sasl_auth_enable": auth, "smtpd_relay_restrictions": relay},
			map[string]string{"submission/inet": "smtpd"},
			map[string]map[string]string{"submission/inet": {"smtpd_recipient_restrictions": rcpt}}).Notes()
	})
}

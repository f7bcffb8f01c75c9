package envelope

import (
	"strings"
	"testing"
)

// tagRef is the straightforward reading of "tag[pid]: msg" that tag's
// single pass must agree with.
func tagRef(s string, e *Envelope) error {
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return ErrNoEnvelope
	}
	if j := strings.IndexByte(s[:i], '['); j >= 0 {
		i = j
	}
	if j := strings.IndexByte(s[:i], ' '); j >= 0 {
		i = j
	}
	if i == 0 || i > 256 {
		return ErrNoEnvelope
	}
	e.Tag = s[:i]
	if s[i] == '[' {
		end := strings.IndexByte(s[i:], ']')
		if end < 0 {
			return ErrNoEnvelope
		}
		pid := 0
		for _, c := range []byte(s[i+1 : i+end]) {
			if !isDigit(c) || pid > 1<<30 {
				pid = -1
				break
			}
			pid = pid*10 + int(c-'0')
		}
		if pid > 0 {
			e.PID = pid
		}
		i += end + 1
	}
	if i >= len(s) || s[i] != ':' {
		return ErrNoEnvelope
	}
	i++
	if i < len(s) && s[i] == ' ' {
		i++
	}
	e.Msg = s[i:]
	return nil
}

func FuzzTag(f *testing.F) {
	for _, s := range []string{
		"postfix/smtpd[123]: connect from x", "kernel: x", "a b[1]: x", "x[1]", "x[]: y", "x[12a]: y",
		"[1]: x", ":x", "x:", "x[1]:", "x[1] : y", strings.Repeat("a", 300) + ": x", "x[" + strings.Repeat("1", 300) + "]: y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var a, b Envelope
		ea, eb := tag(s, &a), tagRef(s, &b)
		if ea != eb || ea == nil && a != b { // on error the envelope is dropped
			t.Fatalf("tag(%q) = %v %+v, reference %v %+v", s, ea, a, eb, b)
		}
	})
}

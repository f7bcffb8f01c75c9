package postfixq

import (
	"os"
	"strings"
	"testing"

	"github.com/saslguard/saslguard/internal/queue"
)

// FuzzParsePostcat: no input panics, and every message returned has a valid
// queue id whose block was complete.
func FuzzParsePostcat(f *testing.F) {
	for _, name := range []string{"testdata/postcat-e-all.txt", "testdata/postcat-e-missing.txt"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("*** ENVELOPE RECORDS hold/ABCDEF1234 ***\nsender: \n*** MESSAGE FILE END hold/ABCDEF1234 ***\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, _ := ParsePostcat(b)
		for _, m := range msgs {
			if !ValidQueueID(m.QueueID) {
				t.Fatalf("invalid id %q returned", m.QueueID)
			}
			if !strings.Contains(string(b), "*** MESSAGE FILE END "+m.Path+" ***") {
				t.Fatalf("message %q without an end marker", m.Path)
			}
		}
	})
}

// FuzzDecodeList: no input panics.
func FuzzDecodeList(f *testing.F) {
	if b, err := os.ReadFile("testdata/postqueue-j.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"queue_id": 1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeList(strings.NewReader(string(b)), func(queue.Entry) error { return nil })
	})
}

// FuzzValidQueueID: what passes never carries a byte that could split a
// postsuper stdin line or look like an option.
func FuzzValidQueueID(f *testing.F) {
	for _, s := range []string{"8A1A2B830F", "4PbC4x469Jz3tBr", "-h", "ALL", "A\nB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidQueueID(s) && (strings.ContainsAny(s, " \t\r\n\x00-/.") || len(s) > 32) {
			t.Fatalf("accepted %q", s)
		}
	})
}

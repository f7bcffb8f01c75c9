package postfixq

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/saslguard/saslguard/internal/queue"
)

func TestValidQueueID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"8A1A2B830F", true},
		{"8A1A2B830F0123456789A", true},   // 64-bit inode number: 21 digits
		{"8A1A2B830F0123456789AB", false}, // longer than any short id
		{"92B919843A2", true},
		{"4PbC4x469Jz3tBr", true},
		{"4jbZ9q5z6cz1SPd3", true}, // 'z' is a digit of the time part (seen in CI)
		{"4jbZ9qzzzzz1SPd3", true},
		{"4PbC4x469JbXz3tBr", true},     // a wider time part
		{"4PbC4x469Jz3tBrQwXyZ9", true}, // a 64-bit inode number
		{"4jbZ9q5z6z1SPd3", false},      // the separator before the 10th character
		{"", false},
		{"ABC", false},
		{"8a1a2b830f", false},   // short ids are upper case
		{"-h", false},           // an option
		{"ALL", false},          // postsuper's wildcard
		{"8A1A2B830F\n", false}, // newline would split postsuper's stdin
		{"8A1A 2B830F", false},
		{"../../etc/x", false},
		{"4PbC4x469Jy3tBr", false}, // no 'z' separator
		{"4PbC4x469Jz3tAr", false}, // vowel
		{"4PbC4x469Jz", false},
		{strings.Repeat("A", 10000), false},
		{"8A1A2B830F\x00", false},
	}
	for _, tt := range tests {
		if got := ValidQueueID(tt.id); got != tt.want {
			t.Errorf("ValidQueueID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestParsePostcatRecorded(t *testing.T) {
	b, err := os.ReadFile("testdata/postcat-e-all.txt")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := ParsePostcat(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 7 {
		t.Fatalf("got %d messages, want 7", len(msgs))
	}
	byID := make(map[string]queue.Message)
	for _, m := range msgs {
		byID[m.QueueID] = m
	}
	got := byID["92B919843A2"]
	want := queue.Message{
		QueueID: "92B919843A2", Queue: "hold", Path: "hold/92B919843A2",
		Sender: "promo1@spam.example", Recipients: []string{"victim1@example.org", "v2@example.net"},
		ArrivalTime:  time.Date(2026, 11, 27, 7, 57, 58, 0, time.Local),
		Size:         400,
		SASLUsername: "alice@lab.test", SASLMethod: "PLAIN", ClientAddress: "127.0.0.66", LogIdent: "92B919843A2",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("92B919843A2 (-want +got):\n%s", d)
	}
	bounce := byID["630AA984A02"]
	if bounce.Sender != "" || bounce.SASLUsername != "" || !slices.Equal(bounce.Recipients, []string{"promo1@spam.example"}) {
		t.Errorf("bounce parsed as %+v", bounce)
	}
	// Submitted as Alice@LAB.test: Dovecot answered with the canonical name.
	if m := byID["CCFD4984408"]; m.SASLUsername != "alice@lab.test" || m.Queue != "deferred" || m.Path != "deferred/C/CCFD4984408" {
		t.Errorf("CCFD4984408 = %+v", m)
	}
}

func TestParsePostcatHostile(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"truncated block dropped", "*** ENVELOPE RECORDS deferred/A/ABCDEF1234 ***\nsender: x\n", 0},
		{"end for other path", "*** ENVELOPE RECORDS hold/ABCDEF1234 ***\n*** MESSAGE FILE END hold/ABCDEF9999 ***\n", 0},
		{"invalid id in path", "*** ENVELOPE RECORDS hold/-h ***\n*** MESSAGE FILE END hold/-h ***\n", 0},
		{"marker inside a value is data", "*** ENVELOPE RECORDS hold/ABCDEF1234 ***\nsender: *** MESSAGE FILE END hold/ABCDEF1234 ***\n*** MESSAGE FILE END hold/ABCDEF1234 ***\n", 1},
		{"garbage", "\x00\xff***\n*** ***\n:::\n", 0},
		{"long line", "*** ENVELOPE RECORDS hold/ABCDEF1234 ***\nrecipient: " + strings.Repeat("x", 200000) + "\n*** MESSAGE FILE END hold/ABCDEF1234 ***\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := ParsePostcat([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != tt.want {
				t.Fatalf("got %d messages, want %d: %+v", len(msgs), tt.want, msgs)
			}
		})
	}
}

func TestDecodeListRecorded(t *testing.T) {
	f, err := os.Open("testdata/postqueue-j.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []queue.Entry
	if err := DecodeList(f, func(e queue.Entry) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 7 {
		t.Fatalf("got %d entries, want 7", len(got))
	}
	e := got[0]
	if e.QueueID != "630AA984A02" || e.Queue != "deferred" || e.Sender != "MAILER-DAEMON" || e.Size != 249 ||
		e.ArrivalTime.Unix() != 1795766366 || !slices.Equal(e.Recipients, []string{"promo1@spam.example"}) {
		t.Errorf("first entry = %+v", e)
	}
	if err := DecodeList(strings.NewReader(`{"queue_id": "A"}{bad`), func(queue.Entry) error { return nil }); err == nil {
		t.Error("DecodeList accepted broken JSON")
	}
}

func newFake(t *testing.T) (*fakePostfix, *Queue) {
	t.Helper()
	b, err := os.ReadFile("testdata/postcat-e-all.txt")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{"hold", "deferred"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	f := &fakePostfix{blocks: blocksFrom(b), queueDir: dir}
	for id := range f.blocks {
		os.WriteFile(filepath.Join(dir, "deferred", id), []byte("x"), 0o600)
	}
	q, err := New(context.Background(), Config{ConfigDir: "/tmp/lab/etc", QueueDir: dir, HashQueues: []string{}, BatchSize: 3, Runner: f})
	if err != nil {
		t.Fatal(err)
	}
	return f, q
}

func TestInspectSkipsMissingAndBatches(t *testing.T) {
	f, q := newFake(t)
	// DEADBEEF02 has a file when the queue is looked at, but postcat no
	// longer finds it (delivered in between); DEADBEEF01 never had one.
	os.Mkdir(filepath.Join(f.queueDir, "active"), 0o700)
	if err := os.WriteFile(filepath.Join(f.queueDir, "active", "DEADBEEF02"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	ids := []string{"92B919843A2", "DEADBEEF01", "CCFD4984408", "-rf", "B27B1984402", "DEADBEEF02", "A558B9843D3", "630AA984A02"}
	var got []string
	err := q.Inspect(context.Background(), ids, func(m queue.Message) error {
		got = append(got, m.QueueID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"92B919843A2", "CCFD4984408", "B27B1984402", "A558B9843D3", "630AA984A02"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("inspected (-want +got):\n%s", d)
	}
	// 2 batches of 3 (DEADBEEF01 has no file: postcat never sees it), a
	// restart after DEADBEEF02, then DEADBEEF02 once more (its file is
	// still there).
	var calls []string
	for _, c := range f.calls {
		calls = append(calls, strings.Join(c[5:], " "))
	}
	wantCalls := []string{"92B919843A2 CCFD4984408 B27B1984402", "DEADBEEF02 A558B9843D3 630AA984A02", "A558B9843D3 630AA984A02", "DEADBEEF02"}
	if d := cmp.Diff(wantCalls, calls); d != "" {
		t.Errorf("postcat calls (-want +got):\n%s", d)
	}
	for _, c := range f.calls {
		if c[1] != "-c" || c[2] != "/tmp/lab/etc" {
			t.Errorf("call without -c: %q", c)
		}
		if len(c) > 5+3 {
			t.Errorf("batch larger than 3: %q", c)
		}
		for _, a := range c {
			if a == "-rf" || a == "DEADBEEF01" {
				t.Errorf("invalid or absent id reached a command: %q", c)
			}
		}
	}
	// Once its file is gone too, it is not tried again.
	os.Remove(filepath.Join(f.queueDir, "active", "DEADBEEF02"))
	f.calls = nil
	if err := q.Inspect(context.Background(), []string{"DEADBEEF02", "92B919843A2", "DEADBEEF01"}, func(queue.Message) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 1 || strings.Join(f.calls[0][5:], " ") != "92B919843A2" {
		t.Errorf("postcat calls %q, want one for 92B919843A2", f.calls)
	}
}

func TestHoldReleaseDelete(t *testing.T) {
	f, q := newFake(t)
	ctx := context.Background()
	res, err := q.Hold(ctx, []string{"92B919843A2", "B27B1984402", "DEADBEEF01", "92B919843A2", "x\nALL"})
	if err != nil {
		t.Fatal(err)
	}
	want := queue.OpResult{Requested: 3, Changed: 2, Reported: 2, Missing: []string{"DEADBEEF01"}, Invalid: []string{"x\nALL"}}
	if d := cmp.Diff(want, res); d != "" {
		t.Errorf("hold (-want +got):\n%s", d)
	}
	if got := f.stdin[len(f.stdin)-1]; got != "92B919843A2\nB27B1984402\nDEADBEEF01\n" {
		t.Errorf("postsuper stdin = %q", got)
	}
	res, err = q.Release(ctx, []string{"92B919843A2", "A558B9843D3"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(queue.OpResult{Requested: 2, Changed: 1, Reported: 1, Missing: []string{"A558B9843D3"}}, res); d != "" {
		t.Errorf("release (-want +got):\n%s", d)
	}
	// Only held messages are deleted: A558B9843D3 is in deferred.
	res, err = q.DeleteHeld(ctx, []string{"B27B1984402", "A558B9843D3"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(queue.OpResult{Requested: 2, Changed: 1, Reported: 1, Missing: []string{"A558B9843D3"}}, res); d != "" {
		t.Errorf("delete (-want +got):\n%s", d)
	}
	last := f.calls[len(f.calls)-1]
	if d := cmp.Diff([]string{"/usr/sbin/postsuper", "-c", "/tmp/lab/etc", "-d", "-", "hold"}, last); d != "" {
		t.Errorf("delete argv (-want +got):\n%s", d)
	}
	if _, err := os.Stat(filepath.Join(f.queueDir, "deferred", "A558B9843D3")); err != nil {
		t.Errorf("deferred message was touched: %v", err)
	}
}

// memManager is a queue.Manager over parsed messages, for SelectLogin.
func TestSelectLogin(t *testing.T) {
	_, q := newFake(t)
	links := []queue.Link{
		{QueueID: "630AA984A02", Kind: queue.LinkBounce},     // real bounce: sender <>
		{QueueID: "BF59B984406", Kind: queue.LinkBounce},     // bob's mail: another login
		{QueueID: "DEADBEEF01", Kind: queue.LinkFilterCopy},  // gone
		{QueueID: "A558B9843D3", Kind: queue.LinkFilterCopy}, // alice's anyway
	}
	sel, err := queue.SelectLogin(context.Background(), listAll{q}, "ALICE@lab.test", links)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range sel.Messages {
		got[m.QueueID] = m.Reason
	}
	want := map[string]string{
		"92B919843A2": "sasl_username", "B27B1984402": "sasl_username", "A558B9843D3": "sasl_username",
		"1736F984192": "sasl_username", "CCFD4984408": "sasl_username", "630AA984A02": "bounce",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("selected (-want +got):\n%s", d)
	}
	refused := map[string]string{}
	for _, r := range sel.Refused {
		refused[r.QueueID] = r.Reason
	}
	if d := cmp.Diff(map[string]string{
		"BF59B984406": "queue file names another login: bob@lab.test",
		"DEADBEEF01":  "not in queue",
	}, refused); d != "" {
		t.Errorf("refused (-want +got):\n%s", d)
	}
}

// listAll lists every id the fake knows, in a fixed order.
type listAll struct{ *Queue }

func (l listAll) List(ctx context.Context, fn func(queue.Entry) error) error {
	f := l.cfg.Runner.(*fakePostfix)
	ids := make([]string, 0, len(f.blocks))
	for id := range f.blocks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := fn(queue.Entry{QueueID: id}); err != nil {
			return err
		}
	}
	return nil
}

func TestPostsuperCount(t *testing.T) {
	tests := []struct {
		stderr, summary string
		want            int
	}{
		// Recorded from postsuper 3.7 (standard error a pipe).
		{"postsuper: 36766986561: placed on hold\npostsuper: 379DB986445: placed on hold\npostsuper: Placed on hold: 2 messages\n", "Placed on hold", 2},
		{"postsuper: 36766986561: removed\npostsuper: Deleted: 1 message\n", "Deleted", 1},
		{"postsuper: Released from hold: 0 messages\n", "Released from hold", 0},
		{"", "Deleted", -1},
		{"postsuper: Deleted: many messages\n", "Deleted", -1},
		{"postsuper: Placed on hold: 2 messages\n", "Deleted", -1},
		{"postsuper: Deleted: -3 messages\n", "Deleted", -1},
	}
	for _, tt := range tests {
		if got := PostsuperCount([]byte(tt.stderr), tt.summary); got != tt.want {
			t.Errorf("PostsuperCount(%q, %q) = %d, want %d", tt.stderr, tt.summary, got, tt.want)
		}
	}
}

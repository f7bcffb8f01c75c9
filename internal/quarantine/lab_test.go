package quarantine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/queue"
	"github.com/saslguard/saslguard/internal/queue/postfixq"
	"github.com/saslguard/saslguard/internal/testlab"
)

// TestLabExportRestore quarantines a held message of a real Postfix, deletes
// it from the queue, and restores it: it comes back under a new id with its
// envelope and login, its old id as log_ident, released to deferred.
func TestLabExportRestore(t *testing.T) {
	lab := testlab.Start(t, testlab.Options{NoIMAP: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sent, err := lab.Send(ctx, testlab.SendOpts{LocalIP: "127.0.0.66", Login: "alice@lab.test", Password: testlab.DefaultUsers["alice@lab.test"],
		From: "promo@spam.example", To: []string{"v1@example.org", "v2@example.net"}, Subject: "cheap pills"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := postfixq.New(ctx, postfixq.Config{ConfigDir: lab.ConfigDir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lab.WaitQueue(ctx, func(es []testlab.QueueEntry) bool { return testlab.QueueCounts(es)["deferred"] == 1 }); err != nil {
		t.Fatal(err)
	}
	if r, err := q.Hold(ctx, []string{sent.QueueID}); err != nil || r.Changed != 1 {
		t.Fatalf("hold = %+v, %v", r, err)
	}
	qq, err := New(Config{Root: filepath.Join(t.TempDir(), "quarantine")}, q)
	if err != nil {
		t.Fatal(err)
	}
	e, existed, err := qq.Export(ctx, sent.QueueID, "alice@lab.test")
	if err != nil || existed {
		t.Fatalf("export = %+v, %v, %v", e, existed, err)
	}
	if e.Sender != "promo@spam.example" || len(e.Recipients) != 2 {
		t.Errorf("entry = %+v", e)
	}
	_, _, text, _ := qq.Show(e.ID)
	if b, _ := os.ReadFile(text); !strings.Contains(string(b), "Subject: cheap pills") || !strings.Contains(string(b), "sasl_username=alice@lab.test") {
		t.Errorf("text copy lacks subject or login:\n%s", b)
	}
	if _, existed, err := qq.Export(ctx, sent.QueueID, "alice@lab.test"); err != nil || !existed {
		t.Errorf("second export: existed=%v err=%v", existed, err)
	}
	if r, err := q.DeleteHeld(ctx, []string{sent.QueueID}); err != nil || r.Changed != 1 {
		t.Fatalf("delete = %+v, %v", r, err)
	}
	r, err := qq.Restore(ctx, e.ID, RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Usually a new id; the old one when the copy got the freed inode of
	// the deleted original back (a short id encodes the inode).
	t.Logf("%s restored as %s", sent.QueueID, r.RestoredAs)
	var got []queue.Message
	q.Inspect(ctx, []string{r.RestoredAs}, func(m queue.Message) error { got = append(got, m); return nil })
	if len(got) != 1 {
		t.Fatalf("restored message %s not in queue", r.RestoredAs)
	}
	m := got[0]
	if m.Queue != "deferred" || m.LogIdent != sent.QueueID || m.SASLUsername != "alice@lab.test" || m.Sender != "promo@spam.example" || len(m.Recipients) != 2 {
		t.Errorf("restored message = %+v", m)
	}
}

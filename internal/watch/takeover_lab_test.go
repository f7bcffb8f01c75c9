package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/respond"
	"github.com/saslguard/saslguard/internal/store"
	"github.com/saslguard/saslguard/internal/testlab"
)

// TestLabRespondTakesOverWatchIncident: on a real Postfix, watch contains a
// spamming login (block, hold: its incident stays open); respond --yes then
// finishes it in that same incident (quarantine, delete) and closes it,
// instead of opening a second one beside watch's.
func TestLabRespondTakesOverWatchIncident(t *testing.T) {
	lab := testlab.Start(t, testlab.Options{NoIMAP: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m := effectiveMap(t, ctx, lab)
	d := startDaemon(t, ctx, lab, m, 3)
	const alice = "alice@lab.test"
	ips := []string{"127.0.0.66", "127.0.0.67", "127.0.0.68"}
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; ; i++ {
		if time.Now().After(deadline) {
			t.Fatal("alice's spam was never refused")
		}
		_, err := lab.Send(ctx, testlab.SendOpts{LocalIP: ips[i%len(ips)], Login: alice, Password: testlab.DefaultUsers[alice],
			From: fmt.Sprintf("promo%d@deals%d.example", i, i%5), To: []string{fmt.Sprintf("victim%d@example.com", i)}, Subject: "pills"})
		var rerr *testlab.ReplyError
		if errors.As(err, &rerr) && rerr.Reply.Code == 554 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	o := d.wait(t, ctx, alice)
	if o.Status != Contained || o.Incident == 0 || o.Held == 0 {
		t.Fatalf("watch: %+v", o)
	}
	if inc, _, _ := d.st.GetIncident(ctx, o.Incident); inc.Status != store.StatusOpen {
		t.Fatalf("watch's incident is %s before respond, want open", inc.Status)
	}

	var out bytes.Buffer
	env, err := respond.Setup(ctx, respond.Settings{PostfixConfig: lab.ConfigDir, StateDir: filepath.Dir(d.st.Path()), NoSessions: true}, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	sum, err := env.Run(ctx, []respond.Target{{Login: alice}}, true)
	t.Logf("respond:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	r := sum.Outcomes[0]
	if r.Incident != o.Incident || !strings.Contains(out.String(), "takes it over") {
		t.Errorf("respond worked in incident %d, want watch's %d", r.Incident, o.Incident)
	}
	if r.Exported < o.Held || r.Deleted != r.Exported || sum.Attention() {
		t.Errorf("respond outcome %+v: want watch's %d held messages quarantined and deleted", r, o.Held)
	}
	incs, err := d.st.ListIncidents(ctx, store.IncidentFilter{Login: alice})
	if err != nil || len(incs) != 1 || incs[0].ID != o.Incident || incs[0].Status != store.StatusClosed {
		t.Errorf("incidents of alice: %+v, %v; want watch's one, closed", incs, err)
	}
	if left, _ := lab.Queue(ctx); testlab.QueueCounts(left)["hold"] != 0 {
		t.Errorf("held mail left: %v", testlab.QueueCounts(left))
	}
	// undo accepts the incident respond took over (a dry run here).
	out.Reset()
	if _, err := env.Undo(ctx, o.Incident, respond.UndoOptions{DryRun: true}); err != nil || !strings.Contains(out.String(), "would remove") {
		t.Errorf("undo dry run of the taken-over incident: %v\n%s", err, out.String())
	}
}

package watch

import (
	"context"
	"testing"

	"github.com/saslguard/saslguard/internal/respond"
	"github.com/saslguard/saslguard/internal/store"
)

// TestContainContinuesOpenIncident: a login whose respond incident is still
// open (its block not in effect yet) is contained in that incident, not in
// a second one.
func TestContainContinuesOpenIncident(t *testing.T) {
	f := newFixture(t, ContainConfig{})
	ctx := context.Background()
	id, err := f.st.CreateIncident(ctx, store.Incident{Login: "alice@lab.test", Source: respond.Source, Summary: "respond"})
	if err != nil {
		t.Fatal(err)
	}
	ids := f.q.add("alice@lab.test", 6, true)
	f.c.Sink(compromised("alice@lab.test", ids))
	o := f.next(t)
	if o.Status != Contained || o.Incident != id {
		t.Fatalf("outcome %+v, want contained in incident %d", o, id)
	}
	incs, err := f.st.ListIncidents(ctx, store.IncidentFilter{Login: "alice@lab.test"})
	if err != nil || len(incs) != 1 {
		t.Errorf("incidents %+v, %v: want the one", incs, err)
	}
	if b, ok, _ := f.st.IsBlocked(ctx, "alice@lab.test"); !ok || b.IncidentID != id {
		t.Errorf("registry %+v %v", b, ok)
	}
}

package queue

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// memQueue is a Manager over fixed messages.
type memQueue struct {
	msgs    []Message
	listErr error
}

func (m *memQueue) List(ctx context.Context, fn func(Entry) error) error {
	if m.listErr != nil {
		return m.listErr
	}
	for _, msg := range m.msgs {
		if err := fn(Entry{QueueID: msg.QueueID, Queue: msg.Queue}); err != nil {
			return err
		}
	}
	return nil
}

func (m *memQueue) Inspect(ctx context.Context, ids []string, fn func(Message) error) error {
	for _, id := range ids {
		for _, msg := range m.msgs {
			if msg.QueueID == id {
				if err := fn(msg); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (m *memQueue) Hold(context.Context, []string) (OpResult, error)       { return OpResult{}, nil }
func (m *memQueue) Release(context.Context, []string) (OpResult, error)    { return OpResult{}, nil }
func (m *memQueue) DeleteHeld(context.Context, []string) (OpResult, error) { return OpResult{}, nil }
func (m *memQueue) Flush(context.Context) error                            { return nil }

func TestSelectLogin(t *testing.T) {
	q := &memQueue{msgs: []Message{
		{QueueID: "A1", SASLUsername: "Alice@Lab.Test", Sender: "spam@x"},
		{QueueID: "A2", SASLUsername: "alice@lab.test.evil", Sender: "spam@x"}, // not an exact match
		{QueueID: "F1", Sender: "spam@x"},                                      // filter copy
		{QueueID: "B1", Sender: ""},                                            // bounce
		{QueueID: "B2", Sender: "someone@x"},                                   // "bounce" with a sender
		{QueueID: "C1", SASLUsername: "bob@lab.test", Sender: ""},              // another login's
		{QueueID: "U1", Sender: "u@x"},                                         // unlinked, no login
	}}
	links := []Link{
		{QueueID: "F1", Kind: LinkFilterCopy}, {QueueID: "B1", Kind: LinkBounce}, {QueueID: "B2", Kind: LinkBounce},
		{QueueID: "C1", Kind: LinkBounce}, {QueueID: "GONE", Kind: LinkBounce}, {QueueID: "A1", Kind: LinkBounce},
	}
	sel, err := SelectLogin(context.Background(), q, "alice@lab.test", links)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range sel.Messages {
		got[m.QueueID] = m.Reason
	}
	if d := cmp.Diff(map[string]string{"A1": "sasl_username", "F1": "filter-copy", "B1": "bounce"}, got); d != "" {
		t.Errorf("selected (-want +got):\n%s", d)
	}
	refused := map[string]bool{}
	for _, r := range sel.Refused {
		refused[r.QueueID] = true
	}
	if d := cmp.Diff(map[string]bool{"B2": true, "C1": true, "GONE": true}, refused); d != "" {
		t.Errorf("refused (-want +got):\n%s", d)
	}
	if sel.Scanned != 7 {
		t.Errorf("scanned %d, want 7", sel.Scanned)
	}
	if _, err := SelectLogin(context.Background(), q, "", nil); err == nil {
		t.Error("empty login accepted")
	}
	q.listErr = errors.New("postqueue failed")
	if _, err := SelectLogin(context.Background(), q, "alice@lab.test", nil); err == nil {
		t.Error("list error swallowed")
	}
}

func TestRecheck(t *testing.T) {
	q := &memQueue{msgs: []Message{
		{QueueID: "A1", SASLUsername: "alice@lab.test", Sender: "spam@x"},
		{QueueID: "B1", Sender: ""},
		{QueueID: "A2", SASLUsername: "alice@lab.test", Sender: "spam@x"},
	}}
	sel, err := SelectLogin(context.Background(), q, "alice@lab.test", []Link{{QueueID: "B1", Kind: LinkBounce}})
	if err != nil || len(sel.Messages) != 3 {
		t.Fatalf("select = %+v, %v", sel, err)
	}
	// A1 is reused by a new message of another login, A2 left the queue.
	q.msgs = []Message{{QueueID: "A1", SASLUsername: "carol@lab.test", Sender: "c@x"}, {QueueID: "B1", Sender: ""}}
	confirmed, foreign, err := Recheck(context.Background(), q, "alice@lab.test", sel)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"B1"}, confirmed); d != "" {
		t.Errorf("confirmed (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"A1"}, foreign); d != "" {
		t.Errorf("foreign (-want +got):\n%s", d)
	}
}

// reusingQueue replaces a message when it is held, as a reused short id
// would look.
type reusingQueue struct {
	memQueue
	held, released []string
}

func (r *reusingQueue) Hold(ctx context.Context, ids []string) (OpResult, error) {
	r.held = append(r.held, ids...)
	for i, m := range r.msgs {
		if m.QueueID == "A2" {
			r.msgs[i] = Message{QueueID: "A2", SASLUsername: "carol@lab.test", Sender: "c@x"}
		}
	}
	return OpResult{Requested: len(ids), Changed: len(ids)}, nil
}

func (r *reusingQueue) Release(ctx context.Context, ids []string) (OpResult, error) {
	r.released = append(r.released, ids...)
	return OpResult{Requested: len(ids), Changed: len(ids)}, nil
}

func TestHoldLogin(t *testing.T) {
	q := &reusingQueue{memQueue: memQueue{msgs: []Message{
		{QueueID: "A1", SASLUsername: "alice@lab.test", Sender: "spam@x"},
		{QueueID: "A2", SASLUsername: "alice@lab.test", Sender: "spam@x"},
		{QueueID: "C1", SASLUsername: "carol@lab.test", Sender: "c@x"},
	}}}
	rep, err := HoldLogin(context.Background(), q, "alice@lab.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"A1", "A2"}, q.held); d != "" {
		t.Errorf("held (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"A1"}, rep.Held); d != "" {
		t.Errorf("confirmed (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"A2"}, q.released); d != "" || len(rep.Released) != 1 {
		t.Errorf("released (-want +got):\n%s", d)
	}
}

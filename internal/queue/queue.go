// Package queue defines what saslguard needs from an MTA's mail queue: list
// the queued messages, read the facts a queue file records about each one
// (above all the SASL login that submitted it), and hold, release or delete
// messages by id. Adapters for one MTA each live in subpackages (postfixq for
// Postfix); the selection of a login's messages is MTA-neutral and lives here.
package queue

import (
	"context"
	"time"
)

// Entry is one message as the queue listing shows it. A listing does not name
// the login: use Inspect for that.
type Entry struct {
	QueueID     string
	Queue       string // active, deferred, hold, incoming, maildrop, ...
	Sender      string // envelope sender; "" for a bounce
	Recipients  []string
	ArrivalTime time.Time
	Size        int64
}

// Message is what a queue file records about one message.
type Message struct {
	QueueID       string
	Queue         string
	Path          string // path relative to the queue directory, as the MTA reports it
	Sender        string
	Recipients    []string
	ArrivalTime   time.Time
	Size          int64
	SASLUsername  string // "" when the message was not submitted with SMTP AUTH
	SASLMethod    string
	ClientAddress string
	LogIdent      string // the id the message was logged under (differs after a restore)
}

// OpResult counts what a hold, release or delete did, as verified from the
// queue itself after the operation.
type OpResult struct {
	Requested int // valid ids asked for
	Changed   int // ids whose message is now in the wanted state, verified
	// Reported is the count the MTA's tool printed itself, or -1 when it
	// printed none.
	Reported int
	Missing  []string // ids that were not where the operation needed them
	Invalid  []string // ids refused before reaching a command
}

// Manager is one MTA's queue.
type Manager interface {
	// List calls fn for every queued message; an error from fn stops the
	// listing and is returned.
	List(ctx context.Context, fn func(Entry) error) error
	// Inspect reads the queue files of ids and calls fn for each message
	// found. Messages that left the queue meanwhile are skipped.
	Inspect(ctx context.Context, ids []string, fn func(Message) error) error
	// Hold moves messages to the hold queue.
	Hold(ctx context.Context, ids []string) (OpResult, error)
	// Release moves held messages back to the deferred queue.
	Release(ctx context.Context, ids []string) (OpResult, error)
	// DeleteHeld deletes messages, but only those in the hold queue: a
	// reused short id can name another, innocent message elsewhere.
	DeleteHeld(ctx context.Context, ids []string) (OpResult, error)
	// Flush asks the MTA to attempt delivery of deferred mail now.
	Flush(ctx context.Context) error
}

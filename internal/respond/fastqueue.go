package respond

import (
	"context"

	"github.com/saslguard/saslguard/internal/queue"
	"github.com/saslguard/saslguard/internal/queue/postfixq"
)

// presentQueue wraps a Postfix queue so that Inspect only asks postcat about
// ids whose queue file exists: postcat takes about a second to give up on a
// missing id (measured on Postfix 3.7.11), and respond re-reads ids it
// recorded earlier, most of which it deleted itself. A file that vanishes
// after the check is still handled by postfixq (skipped, just slower).
type presentQueue struct {
	*postfixq.Queue
}

// queueNames are the queues whose files Inspect may read.
var queueNames = []string{"incoming", "active", "deferred", "hold", "maildrop"}

func (p presentQueue) Inspect(ctx context.Context, ids []string, fn func(queue.Message) error) error {
	if len(ids) == 0 {
		return nil
	}
	present, err := p.Present(ids, queueNames...)
	if err != nil {
		return p.Queue.Inspect(ctx, ids, fn) // an unreadable queue directory: postcat decides
	}
	keep := make([]string, 0, len(ids))
	for _, id := range ids {
		if present[id] {
			keep = append(keep, id)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	return p.Queue.Inspect(ctx, keep, fn)
}

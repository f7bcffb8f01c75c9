package respond

import (
	"context"
	"io/fs"
	"path/filepath"

	"github.com/saslguard/saslguard/internal/queue"
	"github.com/saslguard/saslguard/internal/queue/postfixq"
)

// presentQueue wraps a Postfix queue so that Inspect only asks postcat about
// ids whose queue file exists: postcat takes about a second to give up on a
// missing id (measured on Postfix 3.7.11), and respond re-reads ids it
// recorded earlier, most of which it deleted itself. One walk of the queue
// directories finds the present ids; a file that vanishes after the walk is
// still handled by postfixq (skipped, just slower).
type presentQueue struct {
	*postfixq.Queue
}

// queueNames are the queues whose files Inspect may read.
var queueNames = []string{"incoming", "active", "deferred", "hold", "maildrop"}

func (p presentQueue) Inspect(ctx context.Context, ids []string, fn func(queue.Message) error) error {
	if len(ids) == 0 {
		return nil
	}
	present := map[string]bool{}
	for _, name := range queueNames {
		root := filepath.Join(p.QueueDir(), name)
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // a queue directory may be missing or unreadable: postcat decides
			}
			if !d.IsDir() {
				present[d.Name()] = true
			}
			return nil
		})
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

package follow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/saslguard/saslguard/internal/follow"
)

// The daemon reads lines, and saves the cursor of the last line it has
// processed together with the state that line changed; after a restart it
// passes the saved cursors back.
func Example() {
	dir, _ := os.MkdirTemp("", "follow")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "mail.log")
	os.WriteFile(path, []byte("first\nsecond\n"), 0o644)

	w := follow.NewTestWaker() // in the daemon: follow.NewTicker(ctx, follow.DefaultInterval)
	f := follow.New(follow.Config{Paths: []string{path}, Waker: w})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var saved []byte
	go func() {
		done <- f.Run(ctx, func(l follow.Line) error {
			fmt.Printf("%s (next line at %d)\n", l.Data, l.Cursor.Offset)
			saved, _ = json.Marshal([]follow.Cursor{l.Cursor}) // with the detector state
			return nil
		})
	}()
	w.Poll(ctx)
	cancel()
	<-done

	os.WriteFile(path, []byte("first\nsecond\nthird\n"), 0o644)
	var cursors []follow.Cursor
	json.Unmarshal(saved, &cursors)
	f = follow.New(follow.Config{Paths: []string{path}, Waker: w, Cursors: cursors})
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		done <- f.Run(ctx, func(l follow.Line) error {
			fmt.Printf("%s after the restart\n", l.Data)
			return nil
		})
	}()
	w.Poll(ctx)
	cancel()
	<-done
	// Output:
	// first (next line at 6)
	// second (next line at 13)
	// third after the restart
}

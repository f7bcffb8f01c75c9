package logsrc_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/saslguard/saslguard/internal/logsrc"
)

// A scanner hands chunks to workers, which release them when done; Read
// keeps at most MaxInFlight chunks out at once.
func Example() {
	dir, err := os.MkdirTemp("", "logsrc-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	for name, text := range map[string]string{
		"mail.log.1": "Nov 26 23:59:58 mx1 postfix/smtpd[1]: connect from a\nNov 26 23:59:59 mx1 postfix/smtpd[1]: disconnect from a\n",
		"mail.log":   "Nov 27 00:00:01 mx1 postfix/smtpd[2]: connect from b\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			panic(err)
		}
	}

	set, err := logsrc.Open([]string{filepath.Join(dir, "mail.log*")}, logsrc.Options{})
	if err != nil {
		panic(err)
	}
	for _, f := range set.Files() {
		fmt.Println(filepath.Base(f.Name), f.Size)
	}

	work := make(chan *logsrc.Chunk)
	var lines [2]int
	var wg sync.WaitGroup
	for i := range lines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				lines[i] += bytes.Count(c.Data, []byte{'\n'})
				c.Release()
			}
		}()
	}
	err = set.Read(context.Background(), func(c *logsrc.Chunk) error {
		work <- c
		return nil
	})
	close(work)
	wg.Wait()
	if err != nil {
		panic(err)
	}
	st := set.Stats()
	fmt.Println("lines:", lines[0]+lines[1], "files:", st.Files, "errors:", len(st.Errors))
	// Output:
	// mail.log.1 109
	// mail.log 53
	// lines: 3 files: 2 errors: 0
}

package postfixq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// fakePostfix replays Postfix's tools over an in-memory queue. Its postcat
// behaves as the real one does (checked on Postfix 3.7): ids are read in
// order and the first missing one ends the run with a fatal error. Its
// postsuper moves files in a real temporary queue directory.
type fakePostfix struct {
	mu       sync.Mutex
	blocks   map[string]string // id -> postcat -e block
	queueDir string
	calls    [][]string
	stdin    []string
}

func (f *fakePostfix) Run(ctx context.Context, argv []string, stdin io.Reader, stdout io.Writer) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, argv)
	if stdin != nil {
		b, _ := io.ReadAll(stdin)
		f.stdin = append(f.stdin, string(b))
	}
	prog := filepath.Base(argv[0])
	args := argv[1:]
	if len(args) >= 2 && args[0] == "-c" {
		args = args[2:]
	}
	switch prog {
	case "postcat":
		if len(args) < 2 || args[0] != "-e" || args[1] != "-q" {
			return nil, fmt.Errorf("fake postcat: unexpected args %q", args)
		}
		for _, id := range args[2:] {
			b, ok := f.blocks[id]
			if !ok {
				return []byte("postcat: fatal: open queue file " + id + ": No such file or directory\n"), errors.New("exit status 1")
			}
			io.WriteString(stdout, b)
		}
		return nil, nil
	case "postsuper":
		// Output as recorded from postsuper 3.7 with standard error a pipe.
		b := f.stdin[len(f.stdin)-1]
		var out bytes.Buffer
		n := 0
		for _, id := range strings.Fields(b) {
			var err error
			var what string
			switch args[0] {
			case "-h":
				err, what = os.Rename(filepath.Join(f.queueDir, "deferred", id), filepath.Join(f.queueDir, "hold", id)), "placed on hold"
			case "-H":
				err, what = os.Rename(filepath.Join(f.queueDir, "hold", id), filepath.Join(f.queueDir, "deferred", id)), "released from hold"
			case "-d":
				err, what = os.Remove(filepath.Join(f.queueDir, "hold", id)), "removed"
			}
			if err == nil {
				fmt.Fprintf(&out, "postsuper: %s: %s\n", id, what)
				n++
			}
		}
		summary := map[string]string{"-h": "Placed on hold", "-H": "Released from hold", "-d": "Deleted"}[args[0]]
		unit := "messages"
		if n == 1 {
			unit = "message"
		}
		fmt.Fprintf(&out, "postsuper: %s: %d %s\n", summary, n, unit)
		return out.Bytes(), nil
	case "postqueue":
		return nil, nil
	}
	return nil, fmt.Errorf("fake: unknown program %s", prog)
}

// blocksFrom splits recorded postcat output into per-id blocks.
func blocksFrom(b []byte) map[string]string {
	out := make(map[string]string)
	var cur bytes.Buffer
	var id string
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "*** ENVELOPE RECORDS ") {
			cur.Reset()
			p := strings.TrimSuffix(strings.TrimSpace(line[len("*** ENVELOPE RECORDS "):]), " ***")
			id = p[strings.LastIndexByte(p, '/')+1:]
		}
		cur.WriteString(line)
		if strings.HasPrefix(line, "*** MESSAGE FILE END ") {
			out[id] = cur.String()
		}
	}
	return out
}

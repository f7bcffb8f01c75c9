// Package postfixq is the Postfix adapter of package queue. It lists the queue
// with postqueue -j, reads queue files with postcat -e (many ids per call), and
// holds, releases and deletes messages with postsuper, feeding the ids on
// standard input. Every command gets -c CONFIG_DIR when one is configured, so a
// private instance (a test lab, a multi-instance setup) works the same way.
//
// The counts of Hold, Release and DeleteHeld are verified from the queue
// directory after the operation (what is where now); the count postsuper
// printed on standard error ("Placed on hold: 2 messages") is returned
// beside it as OpResult.Reported.
package postfixq

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/saslguard/saslguard/internal/queue"
)

// DefaultBatchSize is how many queue ids one postcat call reads. Measured on
// Postfix 3.7.11 (2 shared cores, other builds running): with 2007 queued
// messages one postcat call per message costs 5.0 ms a message, batches of
// 100 cost 119 us, of 500 54 us, of 2000 38 us a message; with 20007 queued
// messages batches of 250/1000/4000 cost 124/92/72 us a message, List takes
// 1-2 s, SelectLogin 3.4 s, Hold and Release of all 20007 about 2 s each.
// 1000 keeps an argument vector near 16 KB and a batch's output near 1 MB.
const DefaultBatchSize = 1000

const queueHold = "hold"

// Config says where the Postfix instance is and how to reach its tools.
type Config struct {
	// ConfigDir is passed as -c to every Postfix command; "" means the
	// default instance.
	ConfigDir string
	// BinDir holds postqueue, postcat, postsuper and postconf; "" means
	// /usr/sbin.
	BinDir string
	// QueueDir is the queue_directory; "" asks postconf.
	QueueDir string
	// HashQueues are the hash_queue_names; nil asks postconf.
	HashQueues []string
	// BatchSize is the number of ids per postcat call; 0 means DefaultBatchSize.
	BatchSize int
	Runner    Runner       // nil means ExecRunner
	Logger    *slog.Logger // nil means discard
}

// Queue is a Postfix queue. It implements queue.Manager.
type Queue struct {
	cfg    Config
	hashed map[string]bool
	log    *slog.Logger
}

var _ queue.Manager = (*Queue)(nil)

// New returns the queue of the Postfix instance cfg names, asking postconf for
// what cfg leaves empty.
func New(ctx context.Context, cfg Config) (*Queue, error) {
	if cfg.BinDir == "" {
		cfg.BinDir = "/usr/sbin"
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Runner == nil {
		cfg.Runner = ExecRunner{}
	}
	q := &Queue{cfg: cfg, log: cfg.Logger}
	if q.log == nil {
		q.log = slog.New(slog.DiscardHandler)
	}
	if cfg.QueueDir == "" || cfg.HashQueues == nil {
		vals, err := Postconf(ctx, cfg.Runner, q.bin("postconf"), cfg.ConfigDir, "queue_directory", "hash_queue_names")
		if err != nil {
			return nil, err
		}
		if q.cfg.QueueDir == "" {
			q.cfg.QueueDir = vals["queue_directory"]
		}
		if q.cfg.HashQueues == nil {
			q.cfg.HashQueues = SplitList(vals["hash_queue_names"])
		}
	}
	if q.cfg.QueueDir == "" {
		return nil, fmt.Errorf("postfix queue: empty queue_directory")
	}
	q.hashed = make(map[string]bool)
	for _, n := range q.cfg.HashQueues {
		q.hashed[n] = true
	}
	return q, nil
}

// QueueDir returns the instance's queue_directory.
func (q *Queue) QueueDir() string { return q.cfg.QueueDir }

func (q *Queue) bin(name string) string { return filepath.Join(q.cfg.BinDir, name) }

// argv builds PROG [-c DIR] args...
func (q *Queue) argv(prog string, args ...string) []string {
	return CommandArgv(q.bin(prog), q.cfg.ConfigDir, args...)
}

// CommandArgv returns the argument vector of a Postfix command with -c dir
// when dir is not empty.
func CommandArgv(path, configDir string, args ...string) []string {
	argv := []string{path}
	if configDir != "" {
		argv = append(argv, "-c", configDir)
	}
	return append(argv, args...)
}

// Postconf returns the values of the named parameters (postconf -x, so
// $references are expanded).
func Postconf(ctx context.Context, r Runner, postconf, configDir string, names ...string) (map[string]string, error) {
	var out bytes.Buffer
	args := append([]string{"-x"}, names...)
	stderr, err := r.Run(ctx, CommandArgv(postconf, configDir, args...), nil, &out)
	if err != nil {
		return nil, fmt.Errorf("postconf %s: %w: %s", strings.Join(names, " "), err, firstLine(stderr))
	}
	return ParsePostconf(out.Bytes()), nil
}

// ParsePostconf parses "name = value" lines as postconf prints them.
func ParsePostconf(b []byte) map[string]string {
	vals := make(map[string]string)
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\r\n")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		vals[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return vals
}

// SplitList splits a Postfix list value on commas and white space.
func SplitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// jsonEntry is one line of postqueue -j.
type jsonEntry struct {
	QueueName   string `json:"queue_name"`
	QueueID     string `json:"queue_id"`
	ArrivalTime int64  `json:"arrival_time"`
	MessageSize int64  `json:"message_size"`
	Sender      string `json:"sender"`
	Recipients  []struct {
		Address string `json:"address"`
	} `json:"recipients"`
}

// List implements queue.Manager with postqueue -j, decoding as it streams.
func (q *Queue) List(ctx context.Context, fn func(queue.Entry) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		stderr, err := q.cfg.Runner.Run(ctx, q.argv("postqueue", "-j"), nil, pw)
		if err != nil {
			err = fmt.Errorf("%w: %s", err, firstLine(stderr))
		}
		pw.CloseWithError(err)
		done <- err
	}()
	err := DecodeList(pr, fn)
	pr.CloseWithError(errors.New("listing stopped"))
	cancel()
	runErr := <-done
	if err != nil {
		return fmt.Errorf("list postfix queue: %w", err)
	}
	if runErr != nil && ctx.Err() == nil {
		return fmt.Errorf("list postfix queue: %w", runErr)
	}
	return nil
}

// DecodeList decodes postqueue -j output, calling fn per message.
func DecodeList(r io.Reader, fn func(queue.Entry) error) error {
	dec := json.NewDecoder(r)
	for {
		var je jsonEntry
		err := dec.Decode(&je)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("decode postqueue -j: %w", err)
		}
		e := queue.Entry{
			QueueID:     je.QueueID,
			Queue:       je.QueueName,
			Sender:      je.Sender,
			ArrivalTime: time.Unix(je.ArrivalTime, 0),
			Size:        je.MessageSize,
		}
		for _, r := range je.Recipients {
			e.Recipients = append(e.Recipients, r.Address)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// inspectQueues are the queues postcat -q looks in, in the order messages
// move through them; "active" comes again last for a deferred message that
// moved back to the active queue while the others were looked at.
var inspectQueues = []string{"maildrop", "incoming", "active", "deferred", "hold", "active"}

// Inspect implements queue.Manager. Only ids whose queue file exists are
// given to postcat: one look at the queue directories first (a stat per id
// in a flat queue, one walk of a hashed one), because postcat takes about a
// second to give up on an id with no file (measured on Postfix 3.7.11: it
// waits and looks again) and stops there. So ids that name no queued
// message, such as made-up ids in forged log lines, cost nothing. Ids are
// then read BatchSize at a time with one postcat -e -q ID... call. A file
// that leaves the queue after the look makes postcat stop at it ("open
// queue file ID: No such file or directory"): that id is skipped and the
// call repeated for the ids after it, and it is tried once more at the end
// only if its file is still there. Invalid ids are skipped and logged. Only
// envelope records are read (-e): message headers are the sender's text and
// could imitate postcat's block markers.
func (q *Queue) Inspect(ctx context.Context, ids []string, fn func(queue.Message) error) error {
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if ValidQueueID(id) {
			valid = append(valid, id)
		} else {
			q.log.Warn("skipping invalid queue id", slog.String("id", truncate(id, 64)))
		}
	}
	valid = q.keepPresent(valid)
	var gone []string
	for len(valid) > 0 {
		n := min(len(valid), q.cfg.BatchSize)
		if err := q.inspectBatch(ctx, valid[:n], fn, &gone); err != nil {
			return err
		}
		valid = valid[n:]
	}
	// postcat looks for a file in one queue after another: a message that
	// moved between queues meanwhile (deferred to active) can look gone.
	// Try those once more, if their file is still there.
	gone = q.keepPresent(gone)
	for len(gone) > 0 {
		n := min(len(gone), q.cfg.BatchSize)
		if err := q.inspectBatch(ctx, gone[:n], fn, nil); err != nil {
			return err
		}
		gone = gone[n:]
	}
	return nil
}

// keepPresent returns the ids that have a queue file postcat can read, in
// their order. When the queue directories cannot be read, all of them:
// postcat decides.
func (q *Queue) keepPresent(ids []string) []string {
	if len(ids) == 0 {
		return ids
	}
	present, err := q.Present(ids, inspectQueues...)
	if err != nil {
		q.log.Debug("queue directories not readable: postcat looks for every id", slog.String("err", err.Error()))
		return ids
	}
	keep := ids[:0:0]
	for _, id := range ids {
		if present[id] {
			keep = append(keep, id)
		}
	}
	return keep
}

func (q *Queue) inspectBatch(ctx context.Context, ids []string, fn func(queue.Message) error, gone *[]string) error {
	for len(ids) > 0 {
		var out bytes.Buffer
		stderr, runErr := q.cfg.Runner.Run(ctx, q.argv("postcat", append([]string{"-e", "-q"}, ids...)...), nil, &out)
		msgs, perr := ParsePostcat(out.Bytes())
		if perr != nil {
			return fmt.Errorf("read queue files: %w", perr)
		}
		for _, m := range msgs {
			if err := fn(m); err != nil {
				return err
			}
		}
		if runErr == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("read queue files: %w", ctx.Err())
		}
		missing, ok := missingID(stderr)
		at := indexOf(ids, missing)
		if !ok || at < 0 {
			return fmt.Errorf("read queue files: %w: %s", runErr, firstLine(stderr))
		}
		q.log.Debug("message left the queue before postcat read it", slog.String("id", missing))
		if gone != nil {
			*gone = append(*gone, missing)
		}
		ids = ids[at+1:]
	}
	return nil
}

func indexOf(ids []string, id string) int {
	for i, v := range ids {
		if v == id {
			return i
		}
	}
	return -1
}

// missingID finds the id in postcat's "fatal: open queue file ID: ..." line.
func missingID(stderr []byte) (string, bool) {
	const marker = "fatal: open queue file "
	s := string(stderr)
	i := strings.Index(s, marker)
	if i < 0 {
		return "", false
	}
	rest := s[i+len(marker):]
	id, _, ok := strings.Cut(rest, ":")
	if !ok || !ValidQueueID(id) {
		return "", false
	}
	return id, true
}

// ParsePostcat parses postcat -e output into one Message per complete block
// (ENVELOPE RECORDS ... MESSAGE FILE END). A block cut short is dropped.
func ParsePostcat(b []byte) ([]queue.Message, error) {
	const (
		startMark = "*** ENVELOPE RECORDS "
		endMark   = "*** MESSAGE FILE END "
	)
	var (
		msgs []queue.Message
		cur  *queue.Message
	)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.HasPrefix(line, "*** ") && strings.HasSuffix(line, " ***") {
			switch {
			case strings.HasPrefix(line, startMark):
				path := strings.TrimSuffix(line[len(startMark):], " ***")
				qn, id := splitQueuePath(path)
				cur = &queue.Message{Path: path, Queue: qn, QueueID: id}
			case strings.HasPrefix(line, endMark):
				path := strings.TrimSuffix(line[len(endMark):], " ***")
				if cur != nil && cur.Path == path && ValidQueueID(cur.QueueID) {
					msgs = append(msgs, *cur)
				}
				cur = nil
			}
			continue
		}
		if cur == nil {
			continue
		}
		key, val, ok := strings.Cut(line, ": ")
		if !ok {
			key, ok = strings.CutSuffix(line, ":")
			val = ""
			if !ok {
				continue
			}
		}
		switch key {
		case "sender":
			cur.Sender = val
		case "recipient":
			cur.Recipients = append(cur.Recipients, val)
		case "message_size":
			if f := strings.Fields(val); len(f) > 0 {
				cur.Size, _ = strconv.ParseInt(f[0], 10, 64)
			}
		case "message_arrival_time":
			if t, err := time.ParseInLocation(time.ANSIC, strings.TrimSpace(val), time.Local); err == nil {
				cur.ArrivalTime = t
			}
		case "named_attribute":
			k, v, _ := strings.Cut(val, "=")
			switch k {
			case "sasl_username":
				cur.SASLUsername = v
			case "sasl_method":
				cur.SASLMethod = v
			case "client_address":
				cur.ClientAddress = v
			case "log_client_address":
				if cur.ClientAddress == "" {
					cur.ClientAddress = v
				}
			case "log_ident":
				cur.LogIdent = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return msgs, fmt.Errorf("parse postcat output: %w", err)
	}
	return msgs, nil
}

// splitQueuePath splits "deferred/9/92B919843A2" into the queue name and id.
func splitQueuePath(p string) (string, string) {
	qn, _, _ := strings.Cut(p, "/")
	return qn, p[strings.LastIndexByte(p, '/')+1:]
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Flush implements queue.Manager (postqueue -f).
func (q *Queue) Flush(ctx context.Context) error {
	stderr, err := q.cfg.Runner.Run(ctx, q.argv("postqueue", "-f"), nil, io.Discard)
	if err != nil {
		return fmt.Errorf("flush postfix queue: %w: %s", err, firstLine(stderr))
	}
	return nil
}

// Hold implements queue.Manager (postsuper -h -).
func (q *Queue) Hold(ctx context.Context, ids []string) (queue.OpResult, error) {
	res, valid := split(ids)
	if len(valid) == 0 {
		return res, nil
	}
	stderr, err := q.postsuper(ctx, valid, "-h", "-")
	if err != nil {
		return res, fmt.Errorf("hold messages: %w", err)
	}
	res.Reported = PostsuperCount(stderr, "Placed on hold")
	held, err := q.present(queueHold, valid)
	if err != nil {
		return res, fmt.Errorf("hold messages: verify: %w", err)
	}
	for _, id := range valid {
		if held[id] {
			res.Changed++
		} else {
			res.Missing = append(res.Missing, id)
		}
	}
	return res, nil
}

// Release implements queue.Manager (postsuper -H -).
func (q *Queue) Release(ctx context.Context, ids []string) (queue.OpResult, error) {
	return q.fromHold(ctx, "release messages", "Released from hold", ids, "-H", "-")
}

// DeleteHeld implements queue.Manager (postsuper -d - hold).
func (q *Queue) DeleteHeld(ctx context.Context, ids []string) (queue.OpResult, error) {
	return q.fromHold(ctx, "delete held messages", "Deleted", ids, "-d", "-", "hold")
}

func (q *Queue) fromHold(ctx context.Context, what, summary string, ids []string, args ...string) (queue.OpResult, error) {
	res, valid := split(ids)
	before, err := q.present(queueHold, valid)
	if err != nil {
		return res, fmt.Errorf("%s: %w", what, err)
	}
	var todo []string
	for _, id := range valid {
		if before[id] {
			todo = append(todo, id)
		} else {
			res.Missing = append(res.Missing, id)
		}
	}
	if len(todo) == 0 {
		return res, nil
	}
	stderr, err := q.postsuper(ctx, todo, args...)
	if err != nil {
		return res, fmt.Errorf("%s: %w", what, err)
	}
	res.Reported = PostsuperCount(stderr, summary)
	after, err := q.present(queueHold, todo)
	if err != nil {
		return res, fmt.Errorf("%s: verify: %w", what, err)
	}
	for _, id := range todo {
		if !after[id] {
			res.Changed++
		}
	}
	return res, nil
}

func split(ids []string) (queue.OpResult, []string) {
	res := queue.OpResult{Reported: -1}
	valid := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		switch {
		case !ValidQueueID(id):
			res.Invalid = append(res.Invalid, id)
		case !seen[id]:
			seen[id] = true
			valid = append(valid, id)
		}
	}
	res.Requested = len(valid)
	return res, valid
}

func (q *Queue) postsuper(ctx context.Context, ids []string, args ...string) ([]byte, error) {
	var in bytes.Buffer
	for _, id := range ids {
		in.WriteString(id)
		in.WriteByte('\n')
	}
	stderr, err := q.cfg.Runner.Run(ctx, q.argv("postsuper", args...), &in, io.Discard)
	if err != nil {
		return stderr, fmt.Errorf("postsuper %s: %w: %s", strings.Join(args, " "), err, firstLine(stderr))
	}
	return stderr, nil
}

// PostsuperCount finds postsuper's summary line ("postsuper: Placed on hold:
// 2 messages", "Released from hold: 1 message", "Deleted: 3 messages") and
// returns its count, or -1 when there is none.
func PostsuperCount(stderr []byte, summary string) int {
	for line := range strings.Lines(string(stderr)) {
		line = strings.TrimSpace(line)
		line = strings.TrimPrefix(line, "postsuper: ")
		rest, ok := strings.CutPrefix(line, summary+": ")
		if !ok {
			continue
		}
		num, unit, _ := strings.Cut(rest, " ")
		if unit != "message" && unit != "messages" {
			continue
		}
		if n, err := strconv.Atoi(num); err == nil && n >= 0 {
			return n
		}
	}
	return -1
}

// present reports which of ids have a file in the named queue directory.
// Present returns which of ids have a queue file in one of the named
// queues ("incoming", "active", "deferred", "hold", "maildrop"): a stat per
// id in a flat queue, one walk of a hashed one.
func (q *Queue) Present(ids []string, queues ...string) (map[string]bool, error) {
	all := make(map[string]bool, len(ids))
	for _, name := range queues {
		got, err := q.present(name, ids)
		if err != nil {
			return nil, err
		}
		for id := range got {
			all[id] = true
		}
	}
	return all, nil
}

func (q *Queue) present(name string, ids []string) (map[string]bool, error) {
	got := make(map[string]bool, len(ids))
	dir := filepath.Join(q.cfg.QueueDir, name)
	if !q.hashed[name] {
		for _, id := range ids {
			if _, err := os.Lstat(filepath.Join(dir, id)); err == nil {
				got[id] = true
			} else if !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("stat queue file: %w", err)
			}
		}
		return got, nil
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && want[d.Name()] {
			got[d.Name()] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan queue %s: %w", name, err)
	}
	return got, nil
}

// FindFile returns the path of id's queue file in the named queue, or an error
// wrapping os.ErrNotExist.
func (q *Queue) FindFile(name, id string) (string, error) {
	if !ValidQueueID(id) {
		return "", fmt.Errorf("find queue file: invalid queue id %q", truncate(id, 64))
	}
	dir := filepath.Join(q.cfg.QueueDir, name)
	if !q.hashed[name] {
		p := filepath.Join(dir, id)
		if _, err := os.Lstat(p); err != nil {
			return "", fmt.Errorf("find queue file %s: %w", id, err)
		}
		return p, nil
	}
	var found string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == id {
			found = p
			return filepath.SkipAll
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("find queue file %s: %w", id, err)
	}
	if found == "" {
		return "", fmt.Errorf("find queue file %s: %w", id, os.ErrNotExist)
	}
	return found, nil
}

// Text writes the readable form of a queued message (postcat -q ID: envelope,
// headers and body) to w.
func (q *Queue) Text(ctx context.Context, id string, w io.Writer) error {
	if !ValidQueueID(id) {
		return fmt.Errorf("show message: invalid queue id %q", truncate(id, 64))
	}
	stderr, err := q.cfg.Runner.Run(ctx, q.argv("postcat", "-q", id), nil, w)
	if err != nil {
		return fmt.Errorf("show message %s: %w: %s", id, err, firstLine(stderr))
	}
	return nil
}

// CheckStructure runs postsuper -s, which among other repairs renames queue
// files whose name does not match their inode (a file copied back into a
// queue directory), giving them a new queue id.
func (q *Queue) CheckStructure(ctx context.Context) error {
	stderr, err := q.cfg.Runner.Run(ctx, q.argv("postsuper", "-s"), nil, io.Discard)
	if err != nil {
		return fmt.Errorf("postsuper -s: %w: %s", err, firstLine(stderr))
	}
	return nil
}

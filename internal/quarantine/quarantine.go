// Package quarantine keeps copies of held spam messages out of the mail
// queue: evidence for the incident report, and a way back if a message was
// held by mistake. Each export is a directory (0700) under a root (0700)
// holding the raw queue file and a readable postcat text (both 0600), and a
// line in the root's index.jsonl. Exports are idempotent (the same queue file
// exported twice is one entry, recognised by its SHA-256) and restores put
// the raw file back into the hold queue, let postsuper -s rename it to match
// its inode (usually a new queue id), and release it.
package quarantine

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/saslguard/saslguard/internal/queue"
)

// Queue is what quarantine needs from the MTA; *postfixq.Queue has it.
type Queue interface {
	Inspect(ctx context.Context, ids []string, fn func(queue.Message) error) error
	Release(ctx context.Context, ids []string) (queue.OpResult, error)
	FindFile(queueName, id string) (string, error)
	Text(ctx context.Context, id string, w io.Writer) error
	CheckStructure(ctx context.Context) error
	QueueDir() string
}

// Entry is one quarantined message, as the index records it.
type Entry struct {
	ID          string    `json:"id"` // directory name: QUEUEID-SHA256PREFIX
	QueueID     string    `json:"queue_id"`
	Login       string    `json:"login"`
	Sender      string    `json:"sender"`
	Recipients  []string  `json:"recipients"`
	ArrivalTime time.Time `json:"arrival_time"`
	ExportedAt  time.Time `json:"exported_at"`
	SHA256      string    `json:"sha256"` // of the raw queue file
	Size        int64     `json:"size"`   // bytes of the raw queue file
	RestoredAs  string    `json:"restored_as,omitempty"`
	RestoredAt  time.Time `json:"restored_at,omitzero"`
	// PurgedAt is when the retention policy removed the entry's files; a
	// purged entry is no longer listed.
	PurgedAt time.Time `json:"purged_at,omitzero"`
}

// File names inside an entry directory.
const (
	RawName   = "queuefile"
	TextName  = "message.txt"
	IndexName = "index.jsonl"
)

// Config says where the quarantine lives.
type Config struct {
	Root string // created 0700 when missing
	// MinFree is the free space that must remain after an export; 0 means
	// 256 MiB.
	MinFree int64
	Now     func() time.Time
	Logger  *slog.Logger
	// statfs is replaced in tests.
	freeBytes func(dir string) (int64, error)
}

// Quarantine is a quarantine root over one MTA queue.
type Quarantine struct {
	cfg Config
	q   Queue
	log *slog.Logger
}

// New opens (creating if needed) the quarantine root.
func New(cfg Config, q Queue) (*Quarantine, error) {
	if !filepath.IsAbs(cfg.Root) {
		return nil, fmt.Errorf("quarantine root %q must be absolute", cfg.Root)
	}
	if cfg.MinFree <= 0 {
		cfg.MinFree = 256 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.freeBytes == nil {
		cfg.freeBytes = freeBytes
	}
	qq := &Quarantine{cfg: cfg, q: q, log: cfg.Logger}
	if qq.log == nil {
		qq.log = slog.New(slog.DiscardHandler)
	}
	return qq, nil
}

// ensureRoot creates the quarantine root (0700) on the first export, so that
// opening a quarantine to list it or to plan creates nothing.
func (qq *Quarantine) ensureRoot() error {
	if err := os.MkdirAll(qq.cfg.Root, 0o700); err != nil {
		return fmt.Errorf("create quarantine: %w", err)
	}
	if err := os.Chmod(qq.cfg.Root, 0o700); err != nil {
		return fmt.Errorf("create quarantine: %w", err)
	}
	return nil
}

func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// Export copies the held message id into the quarantine, recording login as
// the login it was selected for. It returns the entry and whether it already
// existed (then nothing was written). The message must be in the hold queue:
// export what you held, after checking it.
func (qq *Quarantine) Export(ctx context.Context, id, login string) (Entry, bool, error) {
	if len(login) > 1024 {
		return Entry{}, false, fmt.Errorf("export %s: login is %d bytes long (at most 1024)", id, len(login))
	}
	if err := qq.ensureRoot(); err != nil {
		return Entry{}, false, err
	}
	var msg *queue.Message
	err := qq.q.Inspect(ctx, []string{id}, func(m queue.Message) error {
		if m.QueueID == id {
			msg = &m
		}
		return nil
	})
	if err != nil {
		return Entry{}, false, fmt.Errorf("export %s: %w", id, err)
	}
	if msg == nil {
		return Entry{}, false, fmt.Errorf("export %s: not in the queue", id)
	}
	if msg.Queue != "hold" {
		return Entry{}, false, fmt.Errorf("export %s: message is in the %s queue, not on hold", id, msg.Queue)
	}
	src, err := qq.q.FindFile("hold", id)
	if err != nil {
		return Entry{}, false, fmt.Errorf("export %s: %w", id, err)
	}
	st, err := os.Stat(src)
	if err != nil {
		return Entry{}, false, fmt.Errorf("export %s: %w", id, err)
	}
	// Raw copy plus a text copy of about the same size, plus the margin.
	free, err := qq.cfg.freeBytes(qq.cfg.Root)
	if err != nil {
		return Entry{}, false, fmt.Errorf("export %s: %w", id, err)
	}
	if need := 2*st.Size() + qq.cfg.MinFree; free < need {
		return Entry{}, false, fmt.Errorf("export %s: %d bytes free in %s, need %d", id, free, qq.cfg.Root, need)
	}
	tmpDir, err := os.MkdirTemp(qq.cfg.Root, ".export-")
	if err != nil {
		return Entry{}, false, fmt.Errorf("export %s: %w", id, err)
	}
	defer os.RemoveAll(tmpDir)
	sum, size, err := copyHashed(src, filepath.Join(tmpDir, RawName))
	if err != nil {
		return Entry{}, false, fmt.Errorf("export %s: %w", id, err)
	}
	if e, ok, err := qq.find(id, sum); err != nil {
		return Entry{}, false, fmt.Errorf("export %s: %w", id, err)
	} else if ok {
		return e, true, nil
	}
	if err := qq.writeText(ctx, id, filepath.Join(tmpDir, TextName)); err != nil {
		return Entry{}, false, fmt.Errorf("export %s: %w", id, err)
	}
	if err := syncDir(tmpDir); err != nil {
		return Entry{}, false, fmt.Errorf("export %s: %w", id, err)
	}
	e := Entry{
		ID: id + "-" + sum[:16], QueueID: id, Login: login, Sender: msg.Sender, Recipients: msg.Recipients,
		ArrivalTime: msg.ArrivalTime, ExportedAt: qq.cfg.Now().UTC(), SHA256: sum, Size: size,
	}
	final := filepath.Join(qq.cfg.Root, e.ID)
	if err := os.Rename(tmpDir, final); err != nil {
		return Entry{}, false, fmt.Errorf("export %s: %w", id, err)
	}
	if err := qq.appendIndex(e); err != nil {
		return Entry{}, false, fmt.Errorf("export %s: %w", id, err)
	}
	return e, false, nil
}

// copyHashed copies src to a new 0600 file dst, syncs it and returns the
// SHA-256 (hex) and size of what was copied.
func copyHashed(src, dst string) (string, int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", 0, fmt.Errorf("open queue file: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", 0, fmt.Errorf("create copy: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, fmt.Errorf("copy queue file: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func (qq *Quarantine) writeText(ctx context.Context, id, dst string) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create text copy: %w", err)
	}
	err = qq.q.Text(ctx, id, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func (qq *Quarantine) appendIndex(e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode index entry: %w", err)
	}
	p := filepath.Join(qq.cfg.Root, IndexName)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open index: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return fmt.Errorf("lock index: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	return syncDir(qq.cfg.Root)
}

// List returns the entries, the latest record of each, in export order;
// purged entries are left out.
func (qq *Quarantine) List() ([]Entry, error) {
	all, err := qq.listAll()
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, e := range all {
		if e.PurgedAt.IsZero() {
			out = append(out, e)
		}
	}
	return out, nil
}

// listAll is List with the purged entries.
func (qq *Quarantine) listAll() ([]Entry, error) {
	f, err := os.Open(filepath.Join(qq.cfg.Root, IndexName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	defer f.Close()
	var order []string
	byID := make(map[string]Entry)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	n := 0
	for sc.Scan() {
		n++
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || !validEntryID(e.ID) {
			qq.log.Warn("skipping bad quarantine index line", slog.Int("line", n))
			continue
		}
		if _, ok := byID[e.ID]; !ok {
			order = append(order, e.ID)
		}
		byID[e.ID] = e
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	out := make([]Entry, len(order))
	for i, id := range order {
		out[i] = byID[id]
	}
	return out, nil
}

// validEntryID keeps index data from naming paths outside the root.
func validEntryID(id string) bool {
	qid, sum, ok := strings.Cut(id, "-")
	if !ok || qid == "" || len(sum) != 16 {
		return false
	}
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// Show returns one entry and the paths of its raw and text copies.
func (qq *Quarantine) Show(id string) (Entry, string, string, error) {
	es, err := qq.List()
	if err != nil {
		return Entry{}, "", "", err
	}
	for _, e := range es {
		if e.ID == id {
			dir := filepath.Join(qq.cfg.Root, e.ID)
			return e, filepath.Join(dir, RawName), filepath.Join(dir, TextName), nil
		}
	}
	return Entry{}, "", "", fmt.Errorf("quarantine entry %q: %w", id, os.ErrNotExist)
}

// find returns the entry of queue id with raw hash sum whose raw copy still
// has that hash.
func (qq *Quarantine) find(id, sum string) (Entry, bool, error) {
	es, err := qq.List()
	if err != nil {
		return Entry{}, false, err
	}
	for _, e := range es {
		if e.QueueID != id || e.SHA256 != sum {
			continue
		}
		got, err := hashFile(filepath.Join(qq.cfg.Root, e.ID, RawName))
		if err == nil && got == sum {
			return e, true, nil
		}
		qq.log.Warn("quarantine copy damaged or missing: exporting again", slog.String("entry", e.ID))
	}
	return Entry{}, false, nil
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	KeepHeld bool // leave the restored message on hold
}

// Restore puts entry id's raw queue file back into the hold queue (owner of
// the hold directory, mode 0700), runs postsuper -s (which renames it to
// match its inode: a new queue id, the old one kept as log_ident; the same id
// when the copy happens to get the original's freed inode), finds the id by
// the file's inode, and releases it unless opts.KeepHeld. It
// refuses when the original message is still queued (a second copy would be
// delivered twice).
func (qq *Quarantine) Restore(ctx context.Context, id string, opts RestoreOptions) (Entry, error) {
	e, raw, _, err := qq.Show(id)
	if err != nil {
		return Entry{}, err
	}
	if got, err := hashFile(raw); err != nil || got != e.SHA256 {
		return e, fmt.Errorf("restore %s: raw copy missing or changed", id)
	}
	var still bool
	if err := qq.q.Inspect(ctx, []string{e.QueueID}, func(m queue.Message) error {
		still = still || m.QueueID == e.QueueID
		return nil
	}); err != nil {
		return e, fmt.Errorf("restore %s: %w", id, err)
	}
	if still {
		return e, fmt.Errorf("restore %s: queue id %s is still queued", id, e.QueueID)
	}
	holdDir := filepath.Join(qq.q.QueueDir(), "hold")
	hst, err := os.Stat(holdDir)
	if err != nil {
		return e, fmt.Errorf("restore %s: %w", id, err)
	}
	uid := int(hst.Sys().(*syscall.Stat_t).Uid)
	gid := int(hst.Sys().(*syscall.Stat_t).Gid)
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		if g, err := strconv.Atoi(u.Gid); err == nil {
			gid = g
		}
	}
	dst := filepath.Join(holdDir, e.QueueID)
	ino, err := copyInto(raw, dst, uid, gid)
	if err != nil {
		return e, fmt.Errorf("restore %s: %w", id, err)
	}
	if err := qq.q.CheckStructure(ctx); err != nil {
		return e, fmt.Errorf("restore %s: %w", id, err)
	}
	newID, err := findByInode(holdDir, ino)
	if err != nil {
		return e, fmt.Errorf("restore %s: %w", id, err)
	}
	if !opts.KeepHeld {
		res, err := qq.q.Release(ctx, []string{newID})
		if err != nil {
			return e, fmt.Errorf("restore %s: %w", id, err)
		}
		if res.Changed != 1 {
			return e, fmt.Errorf("restore %s: release of %s did not take", id, newID)
		}
	}
	e.RestoredAs, e.RestoredAt = newID, qq.cfg.Now().UTC()
	if err := qq.appendIndex(e); err != nil {
		return e, fmt.Errorf("restore %s: %w", id, err)
	}
	return e, nil
}

// copyInto copies src to a new file dst (never replacing one), owned by
// uid:gid with mode 0700 as Postfix's queue files are, and returns its inode.
func copyInto(src, dst string, uid, gid int) (uint64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("create queue file: %w", err)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Chown(uid, gid)
	}
	if err == nil {
		err = out.Chmod(0o700)
	}
	if err == nil {
		err = out.Sync()
	}
	var ino uint64
	if err == nil {
		var st os.FileInfo
		if st, err = out.Stat(); err == nil {
			ino = st.Sys().(*syscall.Stat_t).Ino
		}
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return 0, fmt.Errorf("write queue file: %w", err)
	}
	return ino, syncDir(filepath.Dir(dst))
}

func findByInode(dir string, ino uint64) (string, error) {
	var found string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Ino == ino {
			found = d.Name()
			return filepath.SkipAll
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("find restored file: %w", err)
	}
	if found == "" {
		return "", fmt.Errorf("find restored file: no file with inode %d in %s after postsuper -s", ino, dir)
	}
	return found, nil
}

package quarantine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Usage is what the quarantine holds.
type Usage struct {
	Entries int
	Bytes   int64     // on disk: raw and readable copies
	Oldest  time.Time // the oldest export; zero when empty
}

// Usage adds up the listed entries' files.
func (qq *Quarantine) Usage() (Usage, error) {
	es, err := qq.List()
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	for _, e := range es {
		u.Entries++
		u.Bytes += qq.entryBytes(e)
		if u.Oldest.IsZero() || e.ExportedAt.Before(u.Oldest) {
			u.Oldest = e.ExportedAt
		}
	}
	return u, nil
}

func (qq *Quarantine) entryBytes(e Entry) int64 {
	var n int64
	for _, name := range []string{RawName, TextName} {
		if st, err := os.Lstat(filepath.Join(qq.cfg.Root, e.ID, name)); err == nil {
			n += st.Size()
		}
	}
	return n
}

// PurgeOptions are the retention policy: entries exported before OlderThan
// ago go, and then the oldest until what is left fits MaxBytes. Zero values
// do not limit.
type PurgeOptions struct {
	OlderThan time.Duration
	MaxBytes  int64
	// DryRun selects without removing anything.
	DryRun bool
}

// PurgeResult says what a purge removed (or, dry, would remove).
type PurgeResult struct {
	Purged []Entry
	Bytes  int64 // of the purged entries
	Left   Usage
}

// Purge applies the retention policy. Each purged entry is first marked in
// the index, then its directory is removed, so an interrupted purge leaves
// at worst files of an entry no longer listed, which the next purge removes.
func (qq *Quarantine) Purge(opts PurgeOptions) (PurgeResult, error) {
	if opts.OlderThan < 0 || opts.MaxBytes < 0 {
		return PurgeResult{}, errors.New("purge: negative age or size")
	}
	if opts.OlderThan == 0 && opts.MaxBytes == 0 {
		return PurgeResult{}, errors.New("purge: give an age, a size, or both")
	}
	es, err := qq.List()
	if err != nil {
		return PurgeResult{}, err
	}
	slices.SortStableFunc(es, func(a, b Entry) int { return a.ExportedAt.Compare(b.ExportedAt) })
	size := make([]int64, len(es))
	var total int64
	for i, e := range es {
		size[i] = qq.entryBytes(e)
		total += size[i]
	}
	now := qq.cfg.Now()
	var res PurgeResult
	left := Usage{}
	for i, e := range es {
		old := opts.OlderThan > 0 && e.ExportedAt.Before(now.Add(-opts.OlderThan))
		over := opts.MaxBytes > 0 && total > opts.MaxBytes
		if !old && !over {
			left.Entries++
			left.Bytes += size[i]
			if left.Oldest.IsZero() {
				left.Oldest = e.ExportedAt
			}
			continue
		}
		total -= size[i]
		res.Purged = append(res.Purged, e)
		res.Bytes += size[i]
		if opts.DryRun {
			continue
		}
		e.PurgedAt = now.UTC()
		if err := qq.appendIndex(e); err != nil {
			return res, err
		}
		if err := os.RemoveAll(filepath.Join(qq.cfg.Root, e.ID)); err != nil {
			return res, fmt.Errorf("purge %s: %w", e.ID, err)
		}
	}
	res.Left = left
	if !opts.DryRun {
		if err := qq.sweep(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// sweep removes the directories of purged entries that are still there
// (an interrupted purge). A directory the index does not name is never
// touched: it may be an export in progress.
func (qq *Quarantine) sweep() error {
	all, err := qq.listAll()
	if err != nil {
		return err
	}
	for _, e := range all {
		if e.PurgedAt.IsZero() {
			continue
		}
		if err := os.RemoveAll(filepath.Join(qq.cfg.Root, e.ID)); err != nil {
			return fmt.Errorf("purge %s: %w", e.ID, err)
		}
	}
	return nil
}

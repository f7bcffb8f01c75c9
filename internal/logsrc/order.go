package logsrc

import (
	"cmp"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// rotation is what a file's name says about its place in a rotated set.
type rotation struct {
	group string // directory and base name without rotation suffix or compression extension
	num   int    // mail.log.3 -> 3; -1 when the name has no number
	date  string // mail.log-20261120 -> "20261120"; "" when the name has no date
}

// compressExts are stripped from names for grouping only: the compression is
// always detected from the content.
var compressExts = []string{".gz", ".xz", ".zst", ".zstd", ".bz2", ".z", ".lz4"}

// parseRotation reads the rotation suffix of path: a number (logrotate's
// default, mail.log.1, mail.log.2.gz) or a date (dateext: mail.log-20261120,
// mail.log-2026112013, mail.log-2026-11-20, mail.log.20261120).
func parseRotation(path string) rotation {
	dir, base := filepath.Split(filepath.Clean(path))
	lower := strings.ToLower(base)
	for _, ext := range compressExts {
		if len(base) > len(ext) && strings.HasSuffix(lower, ext) {
			base = base[:len(base)-len(ext)]
			break
		}
	}
	r := rotation{group: dir + base, num: -1}
	if d, rest, ok := cutDate(base); ok {
		r.group, r.date = dir+rest, d
		return r
	}
	if i := strings.LastIndexByte(base, '.'); i > 0 && i < len(base)-1 {
		digits := base[i+1:]
		if len(digits) <= 7 && allDigits(digits) {
			if n, err := strconv.Atoi(digits); err == nil {
				r.group, r.num = dir+base[:i], n
			}
		}
	}
	return r
}

// cutDate splits a dateext suffix off base: a separator ('-', '.', '_')
// followed by YYYYMMDD with optional hour, minute, second digits, or
// YYYY-MM-DD. It returns the digits only, so that dates compare as strings.
func cutDate(base string) (date, rest string, ok bool) {
	// YYYY-MM-DD: 10 bytes plus the separator.
	if n := len(base); n > 11 {
		s := base[n-10:]
		if isSep(base[n-11]) && s[4] == '-' && s[7] == '-' &&
			allDigits(s[:4]) && allDigits(s[5:7]) && allDigits(s[8:]) && plausibleDate(s[:4]+s[5:7]+s[8:]) {
			return s[:4] + s[5:7] + s[8:], base[:n-11], true
		}
	}
	i := strings.LastIndexAny(base, "-._")
	if i <= 0 {
		return "", "", false
	}
	s := base[i+1:]
	switch len(s) {
	case 8, 10, 12, 14:
	default:
		return "", "", false
	}
	if !allDigits(s) || !plausibleDate(s[:8]) {
		return "", "", false
	}
	return s, base[:i], true
}

func isSep(c byte) bool { return c == '-' || c == '.' || c == '_' }

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// plausibleDate reports whether YYYYMMDD looks like a calendar date of the
// last or this century.
func plausibleDate(s string) bool {
	y, _ := strconv.Atoi(s[:4])
	m, _ := strconv.Atoi(s[4:6])
	d, _ := strconv.Atoi(s[6:8])
	return y >= 1970 && y <= 2199 && m >= 1 && m <= 12 && d >= 1 && d <= 31
}

// compareRotated orders two files of the same group oldest first.
func compareRotated(a, b *File) int {
	ra, rb := a.rot, b.rot
	switch {
	case ra.num >= 0 && rb.num >= 0 && ra.num != rb.num:
		return cmp.Compare(rb.num, ra.num) // higher number is older
	case ra.date != "" && rb.date != "" && ra.date != rb.date:
		return strings.Compare(ra.date, rb.date)
	}
	aLive := ra.num < 0 && ra.date == ""
	bLive := rb.num < 0 && rb.date == ""
	switch {
	case aLive && !bLive:
		return 1 // the live file is the newest
	case bLive && !aLive:
		return -1
	}
	return compareMtime(a, b)
}

func compareMtime(a, b *File) int {
	if c := a.ModTime.Compare(b.ModTime); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// order sorts files oldest first: within a group (one base name) by rotation
// number or date, and across groups by merging the groups on the mtime of
// their next file. Streams (standard input) go last, in argument order.
func order(files []*File) []*File {
	var streams []*File
	groups := map[string][]*File{}
	var keys []string
	for _, f := range files {
		if f.isStdin {
			streams = append(streams, f)
			continue
		}
		if _, ok := groups[f.rot.group]; !ok {
			keys = append(keys, f.rot.group)
		}
		groups[f.rot.group] = append(groups[f.rot.group], f)
	}
	queues := make([][]*File, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		slices.SortStableFunc(g, compareRotated)
		queues = append(queues, g)
	}
	out := make([]*File, 0, len(files))
	for {
		best := -1
		for i, q := range queues {
			if len(q) == 0 {
				continue
			}
			if best < 0 || compareMtime(q[0], queues[best][0]) < 0 {
				best = i
			}
		}
		if best < 0 {
			break
		}
		out = append(out, queues[best][0])
		queues[best] = queues[best][1:]
	}
	return append(out, streams...)
}

package postfixq

import "strings"

// safeChars is Postfix's "safe" alphabet for long queue ids: digits and
// consonants, in value order. The time part is in base 52 (all of it, 'z'
// included); the inode part is in base 51, which leaves out 'z' so that
// the last 'z' of an id separates the two.
const safeChars = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"

// longTimePad is the least width of a long id's time part: six characters
// of seconds and four of microseconds.
const longTimePad = 10

// ValidQueueID reports whether id has the form of a Postfix queue id: a short
// id (upper-case hex) or a long id (enable_long_queue_ids). Only valid ids
// ever reach a command line or a postsuper stdin.
func ValidQueueID(id string) bool {
	if len(id) < 6 || len(id) > 32 {
		return false
	}
	hex := true
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			hex = false
			break
		}
	}
	if hex {
		// microseconds (5 digits) and the inode number: 64 bits at most
		return len(id) <= 21
	}
	// Long: the time in base 52 (at least 10 characters, and it may hold
	// 'z'), the last 'z', and the inode number in base 51.
	sep := strings.LastIndexByte(id, 'z')
	if sep < longTimePad || sep == len(id)-1 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if i == sep {
			continue
		}
		j := strings.IndexByte(safeChars, id[i])
		if j < 0 || i > sep && j >= 51 {
			return false
		}
	}
	return true
}

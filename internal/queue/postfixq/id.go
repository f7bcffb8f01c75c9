package postfixq

// longIDAlphabet is the digit set of Postfix long queue ids (base 51: digits
// and consonants); 'z' separates the time part from the inode part.
const longIDAlphabet = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxy"

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
		return len(id) <= 20
	}
	// Long: 10 characters of time, 'z', at least one of inode number.
	if len(id) < 12 || id[10] != 'z' {
		return false
	}
	for i := 0; i < len(id); i++ {
		if i == 10 {
			continue
		}
		if !inAlphabet(id[i]) {
			return false
		}
	}
	return true
}

func inAlphabet(c byte) bool {
	for i := 0; i < len(longIDAlphabet); i++ {
		if longIDAlphabet[i] == c {
			return true
		}
	}
	return false
}

package main

import "github.com/saslguard/saslguard/internal/logsrc"

// progressMinSize is the input size (as stored) from which scan shows a
// progress bar: 64 MiB of plain text, but 8 MiB when a file is compressed,
// since each stored byte then stands for 5 to 20 bytes of log.
func progressMinSize(set *logsrc.Set) int64 {
	for _, f := range set.Files() {
		if f.Compression != logsrc.None {
			return 8 << 20
		}
	}
	return 64 << 20
}

package logsrc

import (
	"bytes"
	"hash/maphash"
)

// copytruncate overlap: some rotation setups leave the first lines of the new
// file repeating the last lines of the rotated one. Each file's producer
// hashes the file's last lines (from the chunks it holds back, so it costs
// nothing per line of the file); the first chunk of the next file of the same
// base name is checked against them. With no overlap the check is one hash of
// one line and a scan of a few thousand integers.

// tailHashes hashes the last max lines found in chunks (in file order), oldest
// first. The final line may lack its '\n'; '\n' is never part of the hash.
// It scans forward (bytes.Count and bytes.IndexByte are vectorised,
// bytes.LastIndexByte is not).
func tailHashes(seed maphash.Seed, chunks []*Chunk, max int) []uint64 {
	if max <= 0 {
		return nil
	}
	var parts [][]uint64 // per chunk, last chunk first
	total := 0
	for i := len(chunks) - 1; i >= 0 && total < max; i-- {
		d := chunks[i].Data
		if len(d) > 0 && d[len(d)-1] == '\n' {
			d = d[:len(d)-1]
		}
		lines := bytes.Count(d, []byte{'\n'}) + 1
		for skip := lines - (max - total); skip > 0; skip-- {
			d = d[bytes.IndexByte(d, '\n')+1:]
			lines--
		}
		hs := make([]uint64, 0, lines)
		for {
			j := bytes.IndexByte(d, '\n')
			if j < 0 {
				hs = append(hs, maphash.Bytes(seed, d))
				break
			}
			hs = append(hs, maphash.Bytes(seed, d[:j]))
			d = d[j+1:]
		}
		parts = append(parts, hs)
		total += len(hs)
	}
	out := make([]uint64, 0, total)
	for i := len(parts) - 1; i >= 0; i-- {
		out = append(out, parts[i]...)
	}
	return out
}

// maxCandidates bounds the places in the tail where the first line is looked
// for (a file of identical lines would otherwise cost len(tail)^2).
const maxCandidates = 64

// skipOverlap finds the longest run of lines at the start of data that
// repeats the end of the previous file (tail holds that file's last line
// hashes). It returns the number of bytes and lines to skip; 0, 0 when there
// is no such run inside data.
func skipOverlap(seed maphash.Seed, tail []uint64, data []byte) (skip, lines int) {
	first := data
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		first = data[:i]
	}
	h0 := maphash.Bytes(seed, first)
	var cands []int
	for j, h := range tail {
		if h == h0 {
			cands = append(cands, j)
			if len(cands) == maxCandidates {
				break
			}
		}
	}
	if len(cands) == 0 {
		return 0, 0
	}
	// Hash the start of data, as many lines as the longest candidate needs.
	need := len(tail) - cands[0]
	hs := make([]uint64, 0, need)
	ends := make([]int, 0, need) // byte offset just past each line
	off := 0
	for len(hs) < need && off < len(data) {
		d := data[off:]
		i := bytes.IndexByte(d, '\n')
		if i < 0 {
			hs = append(hs, maphash.Bytes(seed, d))
			ends = append(ends, len(data))
			break
		}
		hs = append(hs, maphash.Bytes(seed, d[:i]))
		off += i + 1
		ends = append(ends, off)
	}
	for _, j := range cands { // longest overlap first
		m := len(tail) - j
		if m > len(hs) {
			continue
		}
		match := true
		for k := 0; k < m; k++ {
			if hs[k] != tail[j+k] {
				match = false
				break
			}
		}
		if match {
			return ends[m-1], m
		}
	}
	return 0, 0
}

package logsrc

import (
	"bytes"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTailHashes compares tailHashes with a plain split of the whole data.
func TestTailHashes(t *testing.T) {
	seed := maphash.MakeSeed()
	r := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		var chunks []*Chunk
		var all []byte
		for range 1 + r.IntN(3) {
			d := randomLines(r, 1+r.IntN(30), 1+r.IntN(20))
			chunks = append(chunks, &Chunk{Data: d})
			all = append(all, d...)
		}
		if r.IntN(2) == 0 { // no trailing newline
			last := chunks[len(chunks)-1]
			last.Data = last.Data[:len(last.Data)-1]
			all = all[:len(all)-1]
		}
		max := 1 + r.IntN(50)
		lines := bytes.Split(bytes.TrimSuffix(all, []byte("\n")), []byte("\n"))
		var want []uint64
		for _, l := range lines[len(lines)-min(max, len(lines)):] {
			want = append(want, maphash.Bytes(seed, l))
		}
		if got := tailHashes(seed, chunks, max); !slices.Equal(got, want) {
			t.Fatalf("tailHashes(max %d) of %q: %d hashes, want %d", max, all, len(got), len(want))
		}
	}
}

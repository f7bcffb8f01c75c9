package scan_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/loggen"
	"github.com/saslguard/saslguard/internal/scan"
)

// generate writes a labelled log into dir and returns its path and truth.
func generate(t *testing.T, dir string, cfg loggen.Config) (string, *loggen.Truth) {
	t.Helper()
	path := filepath.Join(dir, "mail.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	truth, err := loggen.Generate(w, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, truth
}

// checkTruth asserts that every takeover is flagged compromised with the
// right start, and that no legitimate login is flagged at all.
func checkTruth(t *testing.T, res *scan.Result, truth *loggen.Truth) {
	t.Helper()
	if len(truth.Compromised) < 4 {
		t.Fatalf("the generator placed only %d takeovers", len(truth.Compromised))
	}
	for _, c := range truth.Compromised {
		a := res.Correlator.Account(c.Login)
		if a == nil {
			t.Errorf("takeover of %s (%s): login not seen", c.Login, c.Kind)
			continue
		}
		if v := a.Detector().Verdict(); v != detect.Compromised {
			t.Errorf("takeover of %s (%s) not flagged: %v, score %d, %+v", c.Login, c.Kind, v, a.Detector().Score(), a.Detector().Best())
			continue
		}
		if d := a.Detector().Start().Sub(c.Start); d < -time.Minute || d > 2*time.Minute {
			t.Errorf("takeover of %s (%s): start %v, truth %v", c.Login, c.Kind, a.Detector().Start(), c.Start)
		}
	}
	flagged := 0
	for _, login := range truth.Legitimate {
		a := res.Correlator.Account(login)
		if a == nil {
			continue
		}
		if v := a.Detector().Verdict(); v != detect.OK {
			flagged++
			if flagged <= 5 {
				t.Errorf("legitimate %s flagged %v: score %d, %q", login, v, a.Detector().Score(), detect.Reasons(a.Detector().Best(), time.UTC))
			}
		}
	}
	if flagged > 0 {
		t.Errorf("%d legitimate logins flagged", flagged)
	}
	for _, name := range truth.BruteForcedOnly {
		if a := res.Correlator.Account(name); a != nil && a.Detector().Verdict() != detect.OK {
			t.Errorf("brute-forced name %s flagged %v on failed logins alone", name, a.Detector().Verdict())
		}
	}
}

// TestGeneratedLogs runs the detector over generated logs of several seeds
// and shapes: every takeover flagged with its start, no legitimate login.
func TestGeneratedLogs(t *testing.T) {
	cases := []loggen.Config{
		{Seed: 1, Size: 8 << 20},
		{Seed: 2, Size: 8 << 20, LongIDRatio: 0.5},
		{Seed: 3, Size: 8 << 20, Format: loggen.FormatRFC3339},
		{Seed: 4, Size: 24 << 20},
	}
	if testing.Short() {
		cases = cases[:1]
	}
	for _, cfg := range cases {
		t.Run(fmt.Sprintf("seed%d-%dMiB-%s-long%.1f", cfg.Seed, cfg.Size>>20, cfg.Format, cfg.LongIDRatio), func(t *testing.T) {
			path, truth := generate(t, t.TempDir(), cfg)
			res := runScan(t, scan.Options{Year: truth.End.Year()}, path)
			checkTruth(t, res, truth)
			if n := sumMap(res.Stats.Unparsed); n != 0 {
				t.Errorf("%d generated lines not understood: %v", n, res.Stats.Unparsed)
			}
			if res.Stats.NoEnvelope != 0 {
				t.Errorf("%d generated lines without envelope", res.Stats.NoEnvelope)
			}
		})
	}
}

// TestGeneratedRotatedSet splits a generated log into a gzip'ed rotated
// set, given out of order, and expects the same verdicts.
func TestGeneratedRotatedSet(t *testing.T) {
	dir := t.TempDir()
	path, truth := generate(t, dir, loggen.Config{Seed: 5, Size: 8 << 20})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	parts := splitLines(data, 4)
	var names []string
	for i, part := range parts {
		n := len(parts) - 1 - i // the oldest part gets the highest number
		name := filepath.Join(dir, "mail.log")
		if n > 0 {
			name += fmt.Sprintf(".%d", n)
		}
		if n > 1 {
			name += ".gz"
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(part)
			zw.Close()
			part = buf.Bytes()
		}
		if err := os.WriteFile(name, part, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	// shuffled: newest first
	for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
		names[i], names[j] = names[j], names[i]
	}
	res := runScan(t, scan.Options{Year: truth.End.Year()}, names...)
	checkTruth(t, res, truth)
	if res.Stats.Lines != truth.Lines {
		t.Errorf("read %d lines of %d", res.Stats.Lines, truth.Lines)
	}
}

func splitLines(data []byte, n int) [][]byte {
	var out [][]byte
	size := len(data) / n
	for i := 0; i < n-1; i++ {
		cut := bytes.IndexByte(data[size:], '\n') + size + 1
		out = append(out, data[:cut])
		data = data[cut:]
	}
	return append(out, data)
}

func sumMap(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

package logline_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/event"
	"github.com/saslguard/saslguard/internal/logline"
	"github.com/saslguard/saslguard/internal/logsrc"
	"github.com/saslguard/saslguard/internal/postfixlog"
)

// corpusDir is the shared corpus of real public logs, beside the project.
const corpusDir = "../../../shared/corpus"

// keyLine matches the Postfix lines that must be understood.
var keyLine = regexp.MustCompile(`sasl_username=|client=|from=<|to=<|status=|authentication failed`)

// exceptions are corpus lines that carry a key but are known not to be
// Postfix log lines saslguard can read, with the reason.
var exceptions = []struct {
	re     *regexp.Regexp
	reason string
}{
	{regexp.MustCompile(`postfix/postscreen`), "postscreen lines carry no queue id or login"},
	{regexp.MustCompile(`postfix/[a-z/-]*smtpd\[\d+\]: (NOQUEUE: )?(lost connection|timeout|too many errors|disconnect)`), "connection chatter; parsed as such"},
}

// TestCorpusConformance reads every file of the shared corpus: each must be
// read without error, and every Postfix line with a login, client, sender,
// recipient, status or AUTH failure must be understood.
func TestCorpusConformance(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("SKIPPING corpus conformance: %s not present (%v)", corpusDir, err)
	}
	var files []string
	err := filepath.WalkDir(corpusDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		switch filepath.Ext(path) {
		case ".md", ".yaml", ".yml", ".assert", ".metrics", ".txt", ".cs", ".json":
			if !strings.HasSuffix(path, ".log.json") {
				return nil
			}
		}
		files = append(files, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("corpus present but no files found")
	}
	checked, failed := 0, 0
	for _, f := range files {
		set, err := logsrc.Open([]string{f}, logsrc.Options{})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		p := logline.New(2026, time.UTC)
		var ev event.Event
		err = set.Read(context.Background(), func(c *logsrc.Chunk) error {
			defer c.Release()
			for data := c.Data; len(data) > 0; {
				n := bytes.IndexByte(data, '\n')
				var raw []byte
				if n < 0 {
					raw, data = data, nil
				} else {
					raw, data = data[:n], data[n+1:]
				}
				if !keyLine.Match(raw) {
					continue
				}
				line := string(raw)
				r := p.Parse(line, &ev)
				if r.Status == logline.NoEnvelope || r.Status == logline.Other {
					continue // not a Postfix line
				}
				if postfixlog.Daemon(p.Last.Tag) == "" {
					continue
				}
				checked++
				ok := r.Status == logline.Parsed && ev.Kind != event.None
				if ok && ev.Kind == event.Ignored && strings.Contains(line, "sasl_username=") {
					ok = false
				}
				if ok {
					continue
				}
				excused := false
				for _, e := range exceptions {
					if e.re.MatchString(line) {
						excused = true
						break
					}
				}
				if !excused {
					failed++
					if failed <= 40 {
						t.Errorf("%s: not understood: %s", filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), line)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s: read: %v", f, err)
		}
		for _, fe := range set.Stats().Errors {
			t.Errorf("%s: %v", f, fe)
		}
	}
	t.Logf("corpus: %d files, %d key Postfix lines checked, %d not understood", len(files), checked, failed)
}

package envelope

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// journalEntry holds the fields of `journalctl -o json` that saslguard uses.
// Values are raw because the journal writes a field as a string, as an array
// of byte values (not valid UTF-8), or as an array of those (a field set
// twice).
type journalEntry struct {
	Message   json.RawMessage `json:"MESSAGE"`
	Ident     json.RawMessage `json:"SYSLOG_IDENTIFIER"`
	PID       json.RawMessage `json:"_PID"`
	SyslogPID json.RawMessage `json:"SYSLOG_PID"`
	Host      json.RawMessage `json:"_HOSTNAME"`
	Realtime  json.RawMessage `json:"__REALTIME_TIMESTAMP"`
	Comm      json.RawMessage `json:"_COMM"`
	UID       json.RawMessage `json:"_UID"`
	Exe       json.RawMessage `json:"_EXE"`
	Unit      json.RawMessage `json:"_SYSTEMD_UNIT"`
	Cursor    json.RawMessage `json:"__CURSOR"`
}

// parseJournal reads one line of `journalctl -o json`.
func (p *Parser) parseJournal(line string, e *Envelope) error {
	var j journalEntry
	if err := json.Unmarshal([]byte(line), &j); err != nil {
		return ErrNoEnvelope
	}
	us, err := strconv.ParseInt(journalString(j.Realtime), 10, 64)
	if err != nil || us <= 0 {
		return ErrBadTime
	}
	e.Time = time.UnixMicro(us).UTC()
	e.YearKnown, e.Format = true, Journal
	e.Msg = journalString(j.Message)
	e.Tag = journalString(j.Ident)
	if e.Tag == "" {
		e.Tag = journalString(j.Comm)
	}
	e.Host = journalString(j.Host)
	pid := journalString(j.SyslogPID)
	if pid == "" {
		pid = journalString(j.PID)
	}
	if n, err := strconv.Atoi(pid); err == nil && n > 0 {
		e.PID = n
	}
	e.Comm = journalString(j.Comm)
	e.UID = journalString(j.UID)
	e.Exe = journalString(j.Exe)
	e.Unit = journalString(j.Unit)
	e.Cursor = journalString(j.Cursor)
	if e.Tag == "systemd-journald" {
		e.Suppressed = suppressedCount(e.Msg)
	}
	if e.Msg == "" && e.Tag == "" {
		return ErrNoEnvelope
	}
	return nil
}

// journalString decodes a journal field: a JSON string, an array of byte
// values, or an array of such (the first is taken).
func journalString(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case '[':
		var b []byte
		var nums []int
		if json.Unmarshal(raw, &nums) == nil {
			b = make([]byte, 0, len(nums))
			for _, n := range nums {
				b = append(b, byte(n))
			}
			return string(b)
		}
		var many []json.RawMessage
		if json.Unmarshal(raw, &many) == nil && len(many) > 0 {
			return journalString(many[0])
		}
	}
	return ""
}

// suppressedCount reads journald's rate-limit notice:
// "Suppressed 1234 messages from postfix@-.service".
func suppressedCount(msg string) int {
	rest, ok := strings.CutPrefix(msg, "Suppressed ")
	if !ok {
		return 0
	}
	num, _, ok := strings.Cut(rest, " ")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

package correlate

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/event"
)

// The snapshot format: a magic line, a version, the payload's length and
// CRC-32C, then the payload, a gob of the mirror structs below (sorted, so
// that equal states give equal bytes). A change to the mirror structs that
// an older snapshot cannot be decoded into takes a new version; Restore
// rejects versions it does not know.
const (
	snapshotMagic   = "saslguard correlator state\n"
	snapshotVersion = 1
	// maxSnapshot bounds what Restore reads.
	maxSnapshot = 4 << 30
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type snapState struct {
	Inferred  []string
	Hosts     []string
	Accounts  []snapAccount // sorted by login
	Msgs      []snapMsg     // sorted by host and queue id
	Light     []snapLight
	LostLight int // light entries whose host name was unknown (see Snapshot)
	Sessions  []snapSession
	IPFail    []snapInt32
	IPLogins  []snapInt32
	FailCur   []snapFail
	FailPrev  []snapFail
	FailGen   int64
	Now       time.Time
	NextSweep time.Time
	Begin     time.Time
	Unauth    snapUnauth
	Stats     Stats
}

type snapInt32 struct {
	Key string
	N   int32
}

type snapFail struct {
	Login, IP string
	N         [3]int32
}

type snapLight struct {
	Host, QID string
	First     int64
}

type snapSession struct {
	Host string
	PID  int
	Acct int // index in Accounts plus one; 0 for none
	IP   string
	Last time.Time
}

type snapUnauth struct {
	Messages, Local, Outbound, ForeignSenders int
	TopClients, TopSenders                    snapCounter
}

type snapCounter struct {
	Limit, Overflow int
	Keys            []string // sorted
	Counts          []int
}

type snapAccount struct {
	Login, Method                                string
	First, Last                                  time.Time
	Sessions, Messages, Recipients, FilterCopies int
	Bounces, Sent, Deferred, Bounced, Expired    int
	RemoteRejections, Refused, ForeignMessages   int
	FailedLogins, FailuresFromItsIPs             int
	FirstFailure, LastFailure                    time.Time
	OtherLogins                                  int
	IPs, Nets, SenderDomains, ForeignDomains     snapCounter
	FailureIPs, OtherIPs                         snapCounter
	RejectionExamples, QueueIDs                  []string
	QueueIDCount                                 int
	RecentT                                      detect.Times
	RecentQID                                    []string
	OtherFirstIP                                 []string // sorted
	OtherFirstT                                  detect.Times
	State                                        detect.StateData
}

type snapRcpt struct {
	Addr, Status, Reply string
	Spam                bool // a spam rejection was counted for it
}

type snapMsg struct {
	Host, QID               string
	Acct                    int // index in Accounts plus one; 0 for none
	Origin                  Origin
	ClientIP                string
	PID                     int
	Sender                  string
	HasSender               bool
	Size                    int64
	Nrcpt                   int
	MessageID               string
	First, Last             time.Time
	Foreign                 bool
	Rcpts                   []snapRcpt
	MoreStatus              []snapInt32
	Observed, Held          bool
	PriorFailures           int
	NewIP, SharedIP, Hopped bool
}

// Snapshot writes the correlator's whole state (accounts and their detector
// state, open messages, sessions, failure counts, statistics) to w, for
// Restore. The configuration is not written: Restore takes it.
//
// Queue keys go by a hash of the host name whose seed is chosen per
// process, so hosts are written by name. An unauthenticated message is
// keyed by its host's hash alone; when no other open message, session or
// earlier message of the same host left its name, the message cannot be
// written: it is counted in Stats.Expired in the snapshot (its later lines
// become orphans after a restore). With one host in the log this happens
// only before the first authenticated, local or bounce message.
func (c *Correlator) Snapshot(w io.Writer) error {
	st := c.snapState()
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(st); err != nil {
		return fmt.Errorf("encode correlator state: %w", err)
	}
	var hdr [len(snapshotMagic) + 2 + 8 + 4]byte
	n := copy(hdr[:], snapshotMagic)
	binary.BigEndian.PutUint16(hdr[n:], snapshotVersion)
	binary.BigEndian.PutUint64(hdr[n+2:], uint64(payload.Len()))
	binary.BigEndian.PutUint32(hdr[n+10:], crc32.Checksum(payload.Bytes(), crcTable))
	if _, err := w.Write(hdr[:]); err != nil {
		return fmt.Errorf("write correlator state: %w", err)
	}
	if _, err := w.Write(payload.Bytes()); err != nil {
		return fmt.Errorf("write correlator state: %w", err)
	}
	return nil
}

func (c *Correlator) snapState() *snapState {
	st := &snapState{
		FailGen: c.failGen, Now: c.now, NextSweep: c.nextSweep, Begin: c.begin, Stats: c.Stats,
		Unauth: snapUnauth{
			Messages: c.Unauth.Messages, Local: c.Unauth.Local, Outbound: c.Unauth.Outbound,
			ForeignSenders: c.Unauth.ForeignSenders,
			TopClients:     counterData(c.Unauth.TopClients), TopSenders: counterData(c.Unauth.TopSenders),
		},
	}
	st.Inferred = sortedKeys(c.inferred)

	// host names by hash: the interned ones, and those of open messages
	// and sessions
	names := make(map[uint64]string, len(c.hosts))
	for h, name := range c.hosts {
		names[h] = name
	}
	for _, m := range c.msgs {
		if _, ok := names[m.k.Host]; !ok {
			names[m.k.Host] = m.Host
		}
	}
	for k, s := range c.sessions {
		if names[k.host] == "" {
			names[k.host] = s.host
		}
	}
	for h := range c.hosts {
		st.Hosts = append(st.Hosts, names[h])
	}
	sort.Strings(st.Hosts)

	accts := slices.SortedFunc(slices.Values(c.accounts), func(a, b *Account) int { return strings.Compare(a.Login, b.Login) })
	index := make(map[*Account]int, len(accts))
	st.Accounts = make([]snapAccount, len(accts))
	for i, a := range accts {
		index[a] = i + 1
		st.Accounts[i] = accountData(a)
	}

	st.Msgs = make([]snapMsg, 0, len(c.msgs))
	for _, m := range c.msgs {
		sm := snapMsg{
			Host: names[m.k.Host], QID: m.ID(), Acct: index[m.Acct], Origin: m.Origin,
			ClientIP: m.ClientIP, PID: m.PID, Sender: m.Sender, HasSender: m.HasSender, Size: m.Size,
			Nrcpt: m.Nrcpt, MessageID: m.MessageID, First: m.First, Last: m.Last, Foreign: m.Foreign,
			Observed: m.observed, Held: m.held, PriorFailures: m.priorFailures,
			NewIP: m.newIP, SharedIP: m.sharedIP, Hopped: m.hopped,
		}
		for _, r := range m.rcpts {
			sm.Rcpts = append(sm.Rcpts, snapRcpt{r.addr, r.status, r.reply, r.spam})
		}
		for _, k := range sortedKeys(m.moreStatus) {
			sm.MoreStatus = append(sm.MoreStatus, snapInt32{k, int32(m.moreStatus[k])})
		}
		st.Msgs = append(st.Msgs, sm)
	}
	sort.Slice(st.Msgs, func(i, j int) bool {
		a, b := &st.Msgs[i], &st.Msgs[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		return a.QID < b.QID
	})

	st.Light = make([]snapLight, 0, len(c.light))
	for k, first := range c.light {
		name, ok := names[k.Host]
		if !ok {
			st.LostLight++
			continue
		}
		st.Light = append(st.Light, snapLight{name, k.ID(), first})
	}
	sort.Slice(st.Light, func(i, j int) bool {
		a, b := &st.Light[i], &st.Light[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		return a.QID < b.QID
	})
	st.Stats.Expired += st.LostLight

	st.Sessions = make([]snapSession, 0, len(c.sessions))
	for k, s := range c.sessions {
		st.Sessions = append(st.Sessions, snapSession{s.host, k.pid, index[s.acct], s.ip, s.last})
	}
	sort.Slice(st.Sessions, func(i, j int) bool {
		a, b := &st.Sessions[i], &st.Sessions[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		return a.PID < b.PID
	})
	st.IPFail = c.ipFail.data()
	st.IPLogins = c.ipLogins.data()
	st.FailCur = failData(c.failCur)
	st.FailPrev = failData(c.failPrev)
	return st
}

func accountData(a *Account) snapAccount {
	sa := snapAccount{
		Login: a.Login, Method: a.Method, First: a.First, Last: a.Last,
		Sessions: a.Sessions, Messages: a.Messages, Recipients: a.Recipients, FilterCopies: a.FilterCopies,
		Bounces: a.Bounces, Sent: a.Sent, Deferred: a.Deferred, Bounced: a.Bounced, Expired: a.Expired,
		RemoteRejections: a.RemoteRejections, Refused: a.Refused, ForeignMessages: a.ForeignMessages,
		FailedLogins: a.FailedLogins, FailuresFromItsIPs: a.FailuresFromItsIPs,
		FirstFailure: a.FirstFailure, LastFailure: a.LastFailure, OtherLogins: a.OtherLogins,
		IPs: counterData(&a.IPs), Nets: counterData(&a.Nets), SenderDomains: counterData(&a.SenderDomains),
		ForeignDomains: counterData(&a.ForeignDomains), FailureIPs: counterData(&a.FailureIPs),
		OtherIPs:          counterData(&a.OtherIPs),
		RejectionExamples: cloneStrings(a.RejectionExamples), QueueIDs: cloneStrings(a.QueueIDs),
		QueueIDCount: a.QueueIDCount,
		State:        a.state.Data(),
	}
	for _, r := range a.recent {
		sa.RecentT.Append(r.t)
		sa.RecentQID = append(sa.RecentQID, r.qid)
	}
	sa.OtherFirstIP = sortedKeys(a.otherFirst)
	for _, ip := range sa.OtherFirstIP {
		sa.OtherFirstT.Append(a.otherFirst[ip])
	}
	return sa
}

func counterData(c *Counter) snapCounter {
	sc := snapCounter{Limit: c.limit, Overflow: c.Overflow}
	for _, kc := range c.sorted() {
		sc.Keys = append(sc.Keys, kc.Key)
		sc.Counts = append(sc.Counts, kc.Count)
	}
	return sc
}

func failData(m map[failKey]*failSeen) []snapFail {
	if m == nil {
		return nil
	}
	out := make([]snapFail, 0, len(m))
	for k, v := range m {
		out = append(out, snapFail{k.login, k.ip, *v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Login != out[j].Login {
			return out[i].Login < out[j].Login
		}
		return out[i].IP < out[j].IP
	})
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}

// Restore reads a state written by Snapshot and returns a correlator that
// continues from it: fed the events after the snapshot, it reaches the same
// state as the correlator that wrote it fed the same events. cfg gives what
// is not saved: the thresholds, own domains and OnVerdict. A damaged,
// truncated or unknown snapshot gives an error.
func Restore(r io.Reader, cfg Config) (*Correlator, error) {
	var hdr [len(snapshotMagic) + 2 + 8 + 4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("read correlator state: %w", err)
	}
	n := len(snapshotMagic)
	if string(hdr[:n]) != snapshotMagic {
		return nil, errors.New("read correlator state: not a saslguard correlator state")
	}
	if v := binary.BigEndian.Uint16(hdr[n:]); v != snapshotVersion {
		return nil, fmt.Errorf("read correlator state: version %d, this saslguard reads %d", v, snapshotVersion)
	}
	size := binary.BigEndian.Uint64(hdr[n+2:])
	if size > maxSnapshot {
		return nil, fmt.Errorf("read correlator state: payload of %d bytes is too large", size)
	}
	var payload bytes.Buffer
	if m, err := io.CopyN(&payload, r, int64(size)); err != nil {
		return nil, fmt.Errorf("read correlator state: %d of %d bytes: %w", m, size, err)
	}
	if crc32.Checksum(payload.Bytes(), crcTable) != binary.BigEndian.Uint32(hdr[n+10:]) {
		return nil, errors.New("read correlator state: checksum mismatch (damaged)")
	}
	var st snapState
	if err := decodeGob(&payload, &st); err != nil {
		return nil, fmt.Errorf("decode correlator state: %w", err)
	}
	c, err := restoreState(&st, cfg)
	if err != nil {
		return nil, fmt.Errorf("restore correlator state: %w", err)
	}
	return c, nil
}

// decodeGob decodes, turning a panic on hostile input into an error.
func decodeGob(r io.Reader, v any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed: %v", p)
		}
	}()
	return gob.NewDecoder(r).Decode(v)
}

func restoreState(st *snapState, cfg Config) (*Correlator, error) {
	c := New(cfg)
	c.failGen, c.now, c.nextSweep, c.Stats = st.FailGen, st.Now, st.NextSweep, st.Stats
	c.begin = st.Begin
	for _, d := range st.Inferred {
		c.inferred[d] = true
	}
	for _, h := range st.Hosts {
		c.hosts[hostHash(h)] = h
	}
	accts := make([]*Account, len(st.Accounts))
	for i := range st.Accounts {
		a, err := restoreAccount(&st.Accounts[i])
		if err != nil {
			return nil, err
		}
		h := loginHash(a.Login)
		if c.find(a.Login, h) != nil {
			return nil, fmt.Errorf("login %q twice", a.Login)
		}
		accts[i] = a
		c.insertAccount(a, h)
	}
	acct := func(i int) (*Account, error) {
		if i < 0 || i > len(accts) {
			return nil, fmt.Errorf("login index %d out of range", i)
		}
		if i == 0 {
			return nil, nil
		}
		return accts[i-1], nil
	}
	for i := range st.Msgs {
		sm := &st.Msgs[i]
		a, err := acct(sm.Acct)
		if err != nil {
			return nil, err
		}
		k := event.MakeQKey(hostHash(sm.Host), sm.QID)
		host := c.hosts[k.Host]
		if host == "" {
			host = sm.Host
		}
		m := &Message{
			k: k, Host: host, Acct: a, Origin: sm.Origin, ClientIP: sm.ClientIP, PID: sm.PID,
			Sender: sm.Sender, HasSender: sm.HasSender, Size: sm.Size, Nrcpt: sm.Nrcpt,
			MessageID: sm.MessageID, First: sm.First, Last: sm.Last, Foreign: sm.Foreign,
			observed: sm.Observed, held: sm.Held, priorFailures: sm.PriorFailures,
			newIP: sm.NewIP, sharedIP: sm.SharedIP, hopped: sm.Hopped,
		}
		for _, r := range sm.Rcpts {
			m.rcpts = append(m.rcpts, rcpt{r.Addr, statusName(r.Status), r.Reply, r.Spam})
		}
		for _, x := range sm.MoreStatus {
			if m.moreStatus == nil {
				m.moreStatus = map[string]int{}
			}
			m.moreStatus[statusName(x.Key)] = int(x.N)
		}
		c.msgs[k] = m
	}
	for _, l := range st.Light {
		k := event.MakeQKey(hostHash(l.Host), l.QID)
		c.light[k] = l.First
	}
	for _, s := range st.Sessions {
		a, err := acct(s.Acct)
		if err != nil {
			return nil, err
		}
		c.sessions[skey{hostHash(s.Host), s.PID}] = &session{host: s.Host, acct: a, ip: s.IP, last: s.Last}
	}
	for _, x := range st.IPFail {
		c.ipFail.add(x.Key, x.N)
	}
	for _, x := range st.IPLogins {
		c.ipLogins.add(x.Key, x.N)
	}
	c.failCur = restoreFail(st.FailCur)
	if c.failCur == nil {
		c.failCur = map[failKey]*failSeen{}
	}
	c.failPrev = restoreFail(st.FailPrev)
	c.Unauth.Messages, c.Unauth.Local = st.Unauth.Messages, st.Unauth.Local
	c.Unauth.Outbound, c.Unauth.ForeignSenders = st.Unauth.Outbound, st.Unauth.ForeignSenders
	var err error
	if c.Unauth.TopClients, err = restoreCounter(&st.Unauth.TopClients); err != nil {
		return nil, err
	}
	if c.Unauth.TopSenders, err = restoreCounter(&st.Unauth.TopSenders); err != nil {
		return nil, err
	}
	c.restorePending()
	return c, nil
}

func restoreFail(fs []snapFail) map[failKey]*failSeen {
	if fs == nil {
		return nil
	}
	m := make(map[failKey]*failSeen, len(fs))
	for _, f := range fs {
		v := failSeen(f.N)
		m[failKey{f.Login, f.IP}] = &v
	}
	return m
}

func restoreCounter(sc *snapCounter) (*Counter, error) {
	if len(sc.Keys) != len(sc.Counts) {
		return nil, errors.New("counter: keys and counts differ in length")
	}
	if sc.Limit <= 0 {
		return nil, errors.New("counter: no limit")
	}
	c := NewCounter(sc.Limit)
	for i, k := range sc.Keys {
		h := maphash.String(counterSeed, k)
		if k == "" || sc.Counts[i] <= 0 || c.find(k, h) >= 0 {
			return nil, fmt.Errorf("counter: bad or repeated key %q", k)
		}
		if i >= sc.Limit {
			return nil, errors.New("counter: more keys than its limit")
		}
		c.insert(k, h, sc.Counts[i])
	}
	c.Overflow = sc.Overflow
	return c, nil
}

func restoreAccount(sa *snapAccount) (*Account, error) {
	if sa.Login == "" || lower(sa.Login) != sa.Login {
		return nil, fmt.Errorf("bad login %q", sa.Login)
	}
	st, err := sa.State.State()
	if err != nil {
		return nil, fmt.Errorf("login %q: %w", sa.Login, err)
	}
	a := &Account{
		Method: sa.Method, First: sa.First, Last: sa.Last,
		Sessions: sa.Sessions, Messages: sa.Messages, Recipients: sa.Recipients, FilterCopies: sa.FilterCopies,
		Bounces: sa.Bounces, Sent: sa.Sent, Deferred: sa.Deferred, Bounced: sa.Bounced, Expired: sa.Expired,
		RemoteRejections: sa.RemoteRejections, Refused: sa.Refused, ForeignMessages: sa.ForeignMessages,
		FailedLogins: sa.FailedLogins, FailuresFromItsIPs: sa.FailuresFromItsIPs,
		FirstFailure: sa.FirstFailure, LastFailure: sa.LastFailure, OtherLogins: sa.OtherLogins,
		RejectionExamples: sa.RejectionExamples, QueueIDs: sa.QueueIDs, QueueIDCount: sa.QueueIDCount,
		state: *st,
	}
	a.setLogin(sa.Login)
	for _, x := range []struct {
		dst *Counter
		src *snapCounter
	}{{&a.IPs, &sa.IPs}, {&a.Nets, &sa.Nets}, {&a.SenderDomains, &sa.SenderDomains},
		{&a.ForeignDomains, &sa.ForeignDomains}, {&a.FailureIPs, &sa.FailureIPs}, {&a.OtherIPs, &sa.OtherIPs}} {
		c, err := restoreCounter(x.src)
		if err != nil {
			return nil, fmt.Errorf("login %q: %w", sa.Login, err)
		}
		*x.dst = *c
	}
	if sa.RecentT.Check() != nil || sa.OtherFirstT.Check() != nil ||
		len(sa.RecentQID) != sa.RecentT.Len() || len(sa.OtherFirstIP) != sa.OtherFirstT.Len() {
		return nil, fmt.Errorf("login %q: column lengths differ", sa.Login)
	}
	for i, qid := range sa.RecentQID {
		a.recent = append(a.recent, timedQID{sa.RecentT.At(i), qid})
	}
	for i, ip := range sa.OtherFirstIP {
		if a.otherFirst == nil {
			a.otherFirst = map[string]time.Time{}
		}
		a.otherFirst[ip] = sa.OtherFirstT.At(i)
	}
	return a, nil
}

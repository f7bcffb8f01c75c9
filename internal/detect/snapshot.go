package detect

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// StateData is the serialisable form of a State, for the durable state of
// `saslguard watch` (see correlate's Snapshot). Its fields mirror the
// State's; maps are sorted slices so that equal states encode to equal
// bytes. The window slices hold the live entries only.
type StateData struct {
	First, Last time.Time
	ForeignAll  int       // messages with foreign senders ever (0 in states saved before it was kept)
	ForeignFrom time.Time // the first of them
	Messages    int

	IPFirstIP []string // sorted
	IPFirstT  Times
	NewIPs    []NewIP
	PriorFor  []KeyCount // sorted by key

	// the window: time, domain (an index into WinDomains), flags (1:
	// foreign, 2: foreign from a new IP) of each message
	WinT       Times
	WinDomain  []uint32
	WinDomains []string
	WinFlags   []uint8 // and 4: from an IP new in the window
	WinRcpts   []int32 // recipients of each message; nil in states saved before they were kept
	// WinSender is the SenderKey of each foreign message's sender (0:
	// unknown); nil in states saved before senders were kept, whose window
	// then holds no known sender until new messages come
	WinSender []uint64
	// SendFirstK, SendFirstT: when the login first sent as each address of
	// its own domains (sorted by key); SendersKept is false in states saved
	// before they were kept, whose senders are then known from SendersFrom
	SendFirstK  []uint64
	SendFirstT  Times
	SendersFrom time.Time
	SendersKept bool
	HourHead    int // index into the window
	MinHead     int // index into the window
	Domains     []KeyCount
	Foreign     int
	FNew        int

	Rej    Times
	Bnc    Times
	FailT  Times
	FailIP []string

	Hours []HourSlot // nil before the first message, else 24*9 slots

	PeakMinute, PeakHour int

	Verdict Verdict
	Score   int
	Best    Snapshot
	Start   time.Time

	PriorSum   int
	ForgedFrom []string // sorted
	BaseHour   int64
	BaseVal    int
	BaseHist   bool
	Origin     string // the login's first address, never new ("" before it was kept)
	BaseRcpts  int
	// RcptsKept: the state counts recipients (false in states saved before
	// they were, whose baseline then has none before Last)
	RcptsKept bool
	RcptsFrom time.Time
}

// NewIP is an IP first used within the window.
type NewIP struct {
	T        time.Time
	IP       string
	ViaOther bool
	Shared   bool
	// Msg is the IP's first message; zero in states saved before it was
	// kept, which read it as T.
	Msg time.Time
}

// KeyCount is a key with a count.
type KeyCount struct {
	Key string
	N   int
}

// HourSlot is one hour of the baseline ring.
type HourSlot struct {
	Hour, Count int32
	Rcpts       int32 // 0 in states saved before recipients were counted
}

// Data returns the state in serialisable form. It shares no memory with s.
func (s *State) Data() StateData {
	d := StateData{
		First: s.first, Last: s.last, Messages: s.messages, ForeignAll: s.foreignAll, ForeignFrom: s.foreignFrom,
		HourHead: s.hourHead - s.winHead, MinHead: s.minHead - s.winHead,
		Foreign: s.foreign, FNew: s.fNew,
		PeakMinute: s.peakMinute, PeakHour: s.peakHour,
		Verdict: s.verdict, Score: s.score, Best: s.best, Start: s.start,
		PriorSum: s.priorSum, BaseHour: s.baseHour, BaseVal: s.baseVal, BaseHist: s.baseHist, Origin: s.origin,
		BaseRcpts: s.baseRcpts, RcptsKept: true, RcptsFrom: s.rcptsFrom,
		SendersKept: true, SendersFrom: s.sendersFrom,
	}
	d.Best.NewIPList = clone(s.best.NewIPList)
	d.Best.TopForeign = clone(s.best.TopForeign)
	d.Best.Rules = cloneFired(s.best.Rules)
	if len(s.ipFirst) > 0 {
		d.IPFirstIP = make([]string, 0, len(s.ipFirst))
		for ip := range s.ipFirst {
			d.IPFirstIP = append(d.IPFirstIP, ip)
		}
		sort.Strings(d.IPFirstIP)
		for _, ip := range d.IPFirstIP {
			d.IPFirstT.Append(s.ipFirst[ip])
		}
	}
	for _, f := range s.newIPs[s.newHead:] {
		d.NewIPs = append(d.NewIPs, NewIP{f.t, f.ip, f.viaOther, f.shared, f.msg})
	}
	d.PriorFor = sortedCounts(s.priorFor)
	for k := range s.sendFirst {
		d.SendFirstK = append(d.SendFirstK, k)
	}
	slices.Sort(d.SendFirstK)
	for _, k := range d.SendFirstK {
		d.SendFirstT.Append(s.sendFirst[k])
	}
	if n := len(s.win) - s.winHead; n > 0 {
		d.WinDomain, d.WinFlags = make([]uint32, n), make([]uint8, n)
		dict := map[string]uint32{}
		for i, o := range s.win[s.winHead:] {
			d.WinT.Append(o.t)
			k, ok := dict[o.domain]
			if !ok {
				k = uint32(len(d.WinDomains))
				dict[o.domain] = k
				d.WinDomains = append(d.WinDomains, o.domain)
			}
			d.WinDomain[i] = k
			if o.foreign {
				d.WinFlags[i] |= 1
			}
			if o.foreignNew {
				d.WinFlags[i] |= 2
			}
			if o.fromNew {
				d.WinFlags[i] |= 4
			}
			if o.unfamiliar {
				d.WinFlags[i] |= 8
			}
			d.WinRcpts = append(d.WinRcpts, o.rcpts)
			if o.sender != 0 && d.WinSender == nil {
				d.WinSender = make([]uint64, n)
			}
			if o.sender != 0 {
				d.WinSender[i] = o.sender
			}
		}
	}
	d.Domains = sortedCounts(s.domains)
	for _, t := range s.rej[s.rejHead:] {
		d.Rej.Append(t)
	}
	for _, t := range s.bnc[s.bncHead:] {
		d.Bnc.Append(t)
	}
	for _, f := range s.fail[s.failHd:] {
		d.FailT.Append(f.t)
		d.FailIP = append(d.FailIP, f.ip)
	}
	if s.hours != nil {
		d.Hours = make([]HourSlot, len(s.hours))
		for i, h := range s.hours {
			d.Hours[i] = HourSlot{h.hour, int32(h.count), int32(h.rcpts)}
		}
	}
	for ip := range s.forgedFrom {
		d.ForgedFrom = append(d.ForgedFrom, ip)
	}
	sort.Strings(d.ForgedFrom)
	return d
}

// State rebuilds a State from its serialisable form, checking that the
// indices are within bounds so that a damaged snapshot gives an error rather
// than a panic later.
func (d *StateData) State() (*State, error) {
	for _, ts := range []*Times{&d.IPFirstT, &d.WinT, &d.Rej, &d.Bnc, &d.FailT} {
		if err := ts.Check(); err != nil {
			return nil, fmt.Errorf("detector state: %w", err)
		}
	}
	n := d.WinT.Len()
	if len(d.WinDomain) != n || len(d.WinFlags) != n || d.WinRcpts != nil && len(d.WinRcpts) != n || d.WinSender != nil && len(d.WinSender) != n || len(d.IPFirstIP) != d.IPFirstT.Len() || len(d.FailIP) != d.FailT.Len() {
		return nil, errors.New("detector state: column lengths differ")
	}
	if d.HourHead < 0 || d.HourHead > n || d.MinHead < 0 || d.MinHead > n {
		return nil, errors.New("detector state: window index out of range")
	}
	if d.Hours != nil && len(d.Hours) != 24*9 {
		return nil, fmt.Errorf("detector state: %d baseline slots, want %d", len(d.Hours), 24*9)
	}
	if d.Verdict > Compromised {
		return nil, fmt.Errorf("detector state: unknown verdict %d", d.Verdict)
	}
	s := &State{
		first: d.First, last: d.Last, messages: d.Messages, foreignAll: d.ForeignAll, foreignFrom: d.ForeignFrom,
		hourHead: d.HourHead, minHead: d.MinHead,
		foreign: d.Foreign, fNew: d.FNew,
		peakMinute: d.PeakMinute, peakHour: d.PeakHour,
		verdict: d.Verdict, score: d.Score, best: d.Best, start: d.Start,
		priorSum: d.PriorSum, baseHour: d.BaseHour, baseVal: d.BaseVal, baseHist: d.BaseHist, origin: d.Origin,
		baseRcpts: d.BaseRcpts, rcptsFrom: d.RcptsFrom, sendersFrom: d.SendersFrom,
	}
	s.best.NewIPList = clone(d.Best.NewIPList)
	s.best.TopForeign = clone(d.Best.TopForeign)
	s.best.Rules = cloneFired(d.Best.Rules)
	if !d.SendersKept && d.Hours != nil {
		s.sendersFrom = d.Last // no sender history: every address would look new
	}
	if len(d.SendFirstK) != d.SendFirstT.Len() {
		return nil, errors.New("detector state: sender columns differ in length")
	}
	if len(d.SendFirstK) > 0 {
		s.sendFirst = make(map[uint64]time.Time, len(d.SendFirstK))
		for i, k := range d.SendFirstK {
			s.sendFirst[k] = d.SendFirstT.At(i)
		}
	}
	if !d.RcptsKept && d.Hours != nil {
		s.rcptsFrom = d.Last // its hourly slots hold no recipients
	}
	if d.Hours != nil {
		s.hours = new([24 * 9]hourSlot)
		for i, h := range d.Hours {
			s.hours[i] = hourSlot{h.Hour, uint16(min(max(h.Count, 0), math.MaxUint16)), uint16(min(max(h.Rcpts, 0), math.MaxUint16))}
		}
		s.ipFirst, s.domains = map[string]time.Time{}, map[string]int{}
		s.priorFor, s.forgedFrom = map[string]int{}, map[string]bool{}
	} else if len(d.IPFirstIP)+len(d.Domains)+len(d.PriorFor)+len(d.ForgedFrom) > 0 {
		return nil, errors.New("detector state: per-message maps without a baseline")
	}
	for i, ip := range d.IPFirstIP {
		s.ipFirst[ip] = d.IPFirstT.At(i)
	}
	for _, x := range d.PriorFor {
		s.priorFor[x.Key] = x.N
	}
	for _, x := range d.Domains {
		s.domains[x.Key] = x.N
	}
	for _, ip := range d.ForgedFrom {
		s.forgedFrom[ip] = true
	}
	if len(d.NewIPs) > 0 {
		s.newIPs = make([]firstSeen, len(d.NewIPs))
		for i, f := range d.NewIPs {
			msg := f.Msg
			if msg.IsZero() {
				msg = f.T
			}
			s.newIPs[i] = firstSeen{f.T, f.IP, f.ViaOther, f.Shared, msg}
		}
	}
	if n > 0 {
		s.win = make([]obs, n)
		for i := range n {
			k := d.WinDomain[i]
			if int(k) >= len(d.WinDomains) {
				return nil, errors.New("detector state: domain index out of range")
			}
			f := d.WinFlags[i]
			r := int32(1)
			if d.WinRcpts != nil {
				r = min(max(d.WinRcpts[i], 1), 1<<20)
			}
			o := obs{d.WinT.At(i), d.WinDomains[k], f&1 != 0, f&2 != 0, f&4 != 0, r, 0, f&8 != 0}
			if d.WinSender != nil && (o.foreign || o.unfamiliar) && s.addSender(n, d.WinSender[i]) {
				o.sender = d.WinSender[i]
			}
			if o.unfamiliar {
				s.unf++
				if o.fromNew {
					s.unfNew++
				}
				s.countUnfamiliar(n, o.sender)
			}
			s.win[i] = o
			s.winRcpts += int(r)
			if i >= d.HourHead { // the last hour's sums
				s.hourRcpts += int(r)
				if o.fromNew {
					s.hourNew++
				}
			}
		}
	}
	s.rej = timesSlice(&d.Rej)
	s.bnc = timesSlice(&d.Bnc)
	if n := d.FailT.Len(); n > 0 {
		s.fail = make([]failure, n)
		for i := range n {
			s.fail[i] = failure{d.FailT.At(i), d.FailIP[i]}
		}
	}
	return s, nil
}

func timesSlice(ts *Times) []time.Time {
	if ts.Len() == 0 {
		return nil
	}
	out := make([]time.Time, ts.Len())
	for i := range out {
		out[i] = ts.At(i)
	}
	return out
}

func sortedCounts(m map[string]int) []KeyCount {
	if len(m) == 0 {
		return nil
	}
	out := make([]KeyCount, 0, len(m))
	for k, n := range m {
		out = append(out, KeyCount{k, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// clone copies a slice, keeping nil and empty apart only as far as gob
// does (both decode as nil).
func clone[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append([]T(nil), s...)
}

// cloneFired copies fired rules and their figures.
func cloneFired(fs []Fired) []Fired {
	if len(fs) == 0 {
		return nil
	}
	out := make([]Fired, len(fs))
	for i, f := range fs {
		out[i] = Fired{Name: f.Name, Points: f.Points, Figures: clone(f.Figures)}
	}
	return out
}

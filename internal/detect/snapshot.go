package detect

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// StateData is the serialisable form of a State, for the durable state of
// `saslguard watch` (see correlate's Snapshot). Its fields mirror the
// State's; maps are sorted slices so that equal states encode to equal
// bytes. The window slices hold the live entries only.
type StateData struct {
	First, Last time.Time
	Messages    int

	IPFirst  []IPTime // sorted by IP
	NewIPs   []NewIP
	PriorFor []KeyCount // sorted by key

	Win      []Obs
	HourHead int // index into Win
	MinHead  int // index into Win
	Domains  []KeyCount
	Foreign  int
	FNew     int

	Rej  []time.Time
	Bnc  []time.Time
	Fail []IPTime

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
}

// IPTime is an IP address with a time.
type IPTime struct {
	IP string
	T  time.Time
}

// NewIP is an IP first used within the window.
type NewIP struct {
	T        time.Time
	IP       string
	ViaOther bool
	Shared   bool
}

// KeyCount is a key with a count.
type KeyCount struct {
	Key string
	N   int
}

// Obs is one message of the window.
type Obs struct {
	T          time.Time
	Domain     string
	Foreign    bool
	ForeignNew bool
}

// HourSlot is one hour of the baseline ring.
type HourSlot struct {
	Hour, Count int32
}

// Data returns the state in serialisable form. It shares no memory with s.
func (s *State) Data() StateData {
	d := StateData{
		First: s.first, Last: s.last, Messages: s.messages,
		HourHead: s.hourHead - s.winHead, MinHead: s.minHead - s.winHead,
		Foreign: s.foreign, FNew: s.fNew,
		PeakMinute: s.peakMinute, PeakHour: s.peakHour,
		Verdict: s.verdict, Score: s.score, Best: s.best, Start: s.start,
		PriorSum: s.priorSum, BaseHour: s.baseHour, BaseVal: s.baseVal, BaseHist: s.baseHist,
	}
	d.Best.NewIPList = clone(s.best.NewIPList)
	d.Best.TopForeign = clone(s.best.TopForeign)
	if len(s.ipFirst) > 0 {
		d.IPFirst = make([]IPTime, 0, len(s.ipFirst))
		for ip, t := range s.ipFirst {
			d.IPFirst = append(d.IPFirst, IPTime{ip, t})
		}
		sort.Slice(d.IPFirst, func(i, j int) bool { return d.IPFirst[i].IP < d.IPFirst[j].IP })
	}
	for _, f := range s.newIPs[s.newHead:] {
		d.NewIPs = append(d.NewIPs, NewIP{f.t, f.ip, f.viaOther, f.shared})
	}
	d.PriorFor = sortedCounts(s.priorFor)
	if n := len(s.win) - s.winHead; n > 0 {
		d.Win = make([]Obs, n)
		for i, o := range s.win[s.winHead:] {
			d.Win[i] = Obs{o.t, o.domain, o.foreign, o.foreignNew}
		}
	}
	d.Domains = sortedCounts(s.domains)
	d.Rej = clone(s.rej[s.rejHead:])
	d.Bnc = clone(s.bnc[s.bncHead:])
	if n := len(s.fail) - s.failHd; n > 0 {
		d.Fail = make([]IPTime, n)
		for i, f := range s.fail[s.failHd:] {
			d.Fail[i] = IPTime{f.ip, f.t}
		}
	}
	if s.hours != nil {
		d.Hours = make([]HourSlot, len(s.hours))
		for i, h := range s.hours {
			d.Hours[i] = HourSlot{h.hour, h.count}
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
	if d.HourHead < 0 || d.HourHead > len(d.Win) || d.MinHead < 0 || d.MinHead > len(d.Win) {
		return nil, errors.New("detector state: window index out of range")
	}
	if d.Hours != nil && len(d.Hours) != 24*9 {
		return nil, fmt.Errorf("detector state: %d baseline slots, want %d", len(d.Hours), 24*9)
	}
	if d.Verdict > Compromised {
		return nil, fmt.Errorf("detector state: unknown verdict %d", d.Verdict)
	}
	s := &State{
		first: d.First, last: d.Last, messages: d.Messages,
		hourHead: d.HourHead, minHead: d.MinHead,
		foreign: d.Foreign, fNew: d.FNew,
		rej: clone(d.Rej), bnc: clone(d.Bnc),
		peakMinute: d.PeakMinute, peakHour: d.PeakHour,
		verdict: d.Verdict, score: d.Score, best: d.Best, start: d.Start,
		priorSum: d.PriorSum, baseHour: d.BaseHour, baseVal: d.BaseVal, baseHist: d.BaseHist,
	}
	s.best.NewIPList = clone(d.Best.NewIPList)
	s.best.TopForeign = clone(d.Best.TopForeign)
	if d.Hours != nil {
		s.hours = new([24 * 9]hourSlot)
		for i, h := range d.Hours {
			s.hours[i] = hourSlot{h.Hour, h.Count}
		}
		s.ipFirst, s.domains = map[string]time.Time{}, map[string]int{}
		s.priorFor, s.forgedFrom = map[string]int{}, map[string]bool{}
	} else if len(d.IPFirst)+len(d.Domains)+len(d.PriorFor)+len(d.ForgedFrom) > 0 {
		return nil, errors.New("detector state: per-message maps without a baseline")
	}
	for _, x := range d.IPFirst {
		s.ipFirst[x.IP] = x.T
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
			s.newIPs[i] = firstSeen{f.T, f.IP, f.ViaOther, f.Shared}
		}
	}
	if len(d.Win) > 0 {
		s.win = make([]obs, len(d.Win))
		for i, o := range d.Win {
			s.win[i] = obs{o.T, o.Domain, o.Foreign, o.ForeignNew}
		}
	}
	if len(d.Fail) > 0 {
		s.fail = make([]failure, len(d.Fail))
		for i, f := range d.Fail {
			s.fail[i] = failure{f.T, f.IP}
		}
	}
	return s, nil
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

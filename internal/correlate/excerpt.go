package correlate

import (
	"cmp"
	"slices"
)

// Excerpts: a log cut down to smtpd's lines (the runbook's
// `grep sasl_username /var/log/maillog`, a paste in a ticket, a journal
// read for the smtpd tag only) holds each login's "client=...,
// sasl_username=" line but not qmgr's "from=" line, where a message is
// counted. On a host whose log shows no qmgr line, a login's client line
// is the message: it counts with its client IP and time, its sender
// domain unknown.
//
// In a whole log a message whose from= line never comes was not accepted
// (the client left during DATA, the message went to the hold queue), so a
// host counts as an excerpt only once excerptWait of event time has passed
// since one of its login's client lines with no from= line on that host,
// or the log ended first. A from= line makes the host a whole log again. A
// waiting message that leaves the working set first (its queue id reused,
// its "removed" line) is not counted.

// excerptWait is how long (event time, seconds) a login's message waits for
// a from= line of its host before the host is read as an excerpt. Under a
// flood qmgr can lag minutes behind smtpd; an hour without any from= line
// on a host that logs qmgr does not happen.
const excerptWait = 3600

// pendingMsg is a login's message waiting for its host's first qmgr line.
type pendingMsg struct {
	m   *Message
	seq uint64 // m.seq when it waited: a reused struct is another message
	due int64  // unix seconds
}

// hasQmgr tells whether the log has shown a qmgr from= line on host h.
func (c *Correlator) hasQmgr(h uint64) bool {
	if c.qmgrAny && c.qmgrLast == h {
		return true
	}
	if c.qmgrSeen[h] {
		c.qmgrLast, c.qmgrAny = h, true
		return true
	}
	return false
}

// sawQmgr records a from= line of a tracked message on host h: the host's
// log is whole, and its waiting messages will be counted at their own
// from= lines.
func (c *Correlator) sawQmgr(h uint64) {
	if len(c.qmgrSeen) < 65536 {
		c.qmgrSeen[h] = true
	}
	delete(c.excerpt, h)
	c.qmgrLast, c.qmgrAny = h, true
}

// settle decides the waiting messages due by now (unix seconds), or all of
// them.
func (c *Correlator) settle(now int64, all bool) {
	for c.pendHead < len(c.pending) {
		p := c.pending[c.pendHead]
		if !all && p.due > now {
			break
		}
		c.pending[c.pendHead] = pendingMsg{}
		c.pendHead++
		c.decide(p)
	}
	c.compact()
}

func (c *Correlator) compact() {
	if c.pendHead == len(c.pending) {
		c.pending, c.pendHead = c.pending[:0], 0
	} else if c.pendHead > 4096 && c.pendHead > len(c.pending)/2 {
		n := copy(c.pending, c.pending[c.pendHead:])
		clear(c.pending[n:])
		c.pending, c.pendHead = c.pending[:n], 0
	}
}

// decide counts a waiting message whose from= line did not come, when its
// host has shown no qmgr line: the host is read as an excerpt from then on,
// and its other waiting messages are counted too, in their order, before
// any later one.
func (c *Correlator) decide(p pendingMsg) {
	m := p.m
	if m.seq != p.seq || m.observed || m.Acct == nil || m.Origin != Auth || c.hasQmgr(m.k.Host) {
		return
	}
	c.excerpt[m.k.Host] = true
	c.observeExcerpt(m)
	rest := c.pending[c.pendHead:]
	kept := rest[:0]
	for _, q := range rest {
		if c.excerpt[q.m.k.Host] {
			if q.m.seq == q.seq && !q.m.observed && q.m.Acct != nil && q.m.Origin == Auth {
				c.observeExcerpt(q.m)
			}
			continue
		}
		kept = append(kept, q)
	}
	clear(rest[len(kept):])
	c.pending = c.pending[:c.pendHead+len(kept)]
}

// observeExcerpt counts a login's message at its client line.
func (c *Correlator) observeExcerpt(m *Message) {
	m.observed = true
	c.observe(m, m.First, "")
}

// Settle decides every message still waiting for a from= line: the log has
// ended (Finish does it; watch --once calls it at the end of its replay).
func (c *Correlator) Settle() {
	if c.pendHead < len(c.pending) {
		c.settle(0, true)
	}
}

// restorePending puts back in waiting the login's messages of a restored
// correlator that have no from= line yet (a snapshot keeps no waiting list:
// the hosts' qmgr lines are learnt again).
func (c *Correlator) restorePending() {
	for _, m := range c.msgs {
		if !m.observed && m.Origin == Auth && m.Acct != nil {
			c.opened++
			m.seq = c.opened
			c.pending = append(c.pending, pendingMsg{m: m, seq: m.seq, due: m.First.Unix() + excerptWait})
		}
	}
	slices.SortFunc(c.pending, func(a, b pendingMsg) int { return cmp.Compare(a.due, b.due) })
}

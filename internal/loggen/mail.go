package loggen

import (
	"strconv"
)

// Syslog tags of the programs that write the log.
const (
	tagSubmission = "postfix/submission/smtpd"
	tagSmtps      = "postfix/smtps/smtpd"
	tagSmtpd      = "postfix/smtpd"
	tagFilterIn   = "postfix/10025/smtpd"
	tagCleanup    = "postfix/cleanup"
	tagQmgr       = "postfix/qmgr"
	tagSMTP       = "postfix/smtp"
	tagLMTP       = "postfix/lmtp"
	tagLocal      = "postfix/local"
	tagVirtual    = "postfix/virtual"
	tagBounce     = "postfix/bounce"
	tagPickup     = "postfix/pickup"
	tagAmavis     = "amavis"
	tagAnvil      = "postfix/anvil"
	tagDovecot    = "dovecot"
)

type rcptKind uint8

const (
	rcptLMTP     rcptKind = iota // mailbox in orgDomain, delivered by Dovecot LMTP
	rcptVirtual                  // mailbox in orgDomain2, delivered by virtual(8)
	rcptRoot                     // root, delivered by local(8)
	rcptExternal                 // remote domain with a working MX
	rcptNowhere                  // forged domain without MX (bounce targets)
)

type rcpt struct {
	addr  string
	kind  rcptKind
	style uint8  // reply style of the remote side
	mx    string // host[ip] of the remote MX
	bad   bool   // the mailbox does not exist
}

// message is one queued message as the generator sees it.
type message struct {
	sender string
	msgID  string
	rcpts  []rcpt
	size   int
	spam   uint8 // 0 legitimate, 1 spam, 2 spam from a loud burst
	filter bool  // passes through the content filter first
	client string
	ndr    bool
}

// outcome of one delivery attempt.
type outcome uint8

const (
	oSent outcome = iota
	oBadUser
	oGreylist
	oTimeout
	oSpamReject   // permanent reputation/content rejection
	oSpamDefer    // 421 TSS04 style
	oNoDomainTemp // 4.4.3
	oNoDomainPerm // 5.4.4
)

func (g *gen) outcome(m *message, rc *rcpt, attempt int) outcome {
	r := g.r
	switch rc.kind {
	case rcptLMTP, rcptVirtual, rcptRoot:
		return oSent
	case rcptNowhere:
		if attempt == 0 && r.chance(0.3) {
			return oNoDomainPerm
		}
		if r.chance(0.15) {
			return oSent
		}
		return oNoDomainTemp
	}
	if rc.bad {
		return oBadUser
	}
	if attempt > 0 {
		if r.chance(0.35) {
			if m.spam > 0 && rc.style == 3 {
				return oSpamDefer
			}
			return oTimeout
		}
		return oSent
	}
	if m.spam > 0 {
		p := 0.15
		if m.spam == 2 {
			p = 0.55
		}
		if r.chance(p) {
			if rc.style == 3 {
				return oSpamDefer
			}
			return oSpamReject
		}
	}
	switch x := r.f64(); {
	case x < 0.006:
		return oTimeout
	case x < 0.016 && rc.style == 0:
		return oGreylist
	}
	return oSent
}

// queueMessage writes the life of a message that arrived at t0 (MAIL FROM),
// whose header cleanup read at tc and whose transfer ended at tEnd: cleanup,
// qmgr, deliveries, bounces, removal.
func (g *gen) queueMessage(t0, tc, tEnd int64, qid string, m *message, viaFilter bool) {
	r := g.r
	b := g.s.begin(tagCleanup, g.pid(pidCleanup))
	b = append(b, qid...)
	b = append(b, ": message-id=<"...)
	b = append(b, m.msgID...)
	b = append(b, '>')
	g.s.emit(tc, b)

	tq := tEnd + int64(r.between(1_000, 50_000))
	g.qmgrActive(tq, qid, m)

	if viaFilter {
		g.filterHop(t0, tq, qid, m)
		return
	}

	var pendBuf [16]int
	pending := pendBuf[:0]
	for i := range m.rcpts {
		pending = append(pending, i)
	}
	last := tq
	stuck := false
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 0 {
			// The queue manager brings the message back from the deferred queue.
			tq = last + int64(r.between(300, 900+attempt*900))*usSec
			g.qmgrActive(tq, qid, m)
		}
		if attempt == 3 {
			stuck = true // left in the deferred queue
			break
		}
		bounced := 0
		next := pending[:0]
		td := tq
		for _, i := range pending {
			rc := &m.rcpts[i]
			o := g.outcome(m, rc, attempt)
			td += int64(r.between(30_000, 900_000))
			if rc.kind == rcptExternal && o != oTimeout {
				td += int64(r.between(200_000, 2_500_000))
			}
			g.deliveryLine(td, t0, tq, qid, m, rc, o)
			switch o {
			case oSent:
			case oBadUser, oSpamReject, oNoDomainPerm:
				bounced++
			default:
				next = append(next, i)
			}
			if td > last {
				last = td
			}
		}
		pending = next
		if bounced > 0 && !m.ndr {
			last = g.nonDelivery(last, qid, m)
		}
	}
	tr := last + int64(r.between(1_000, 50_000))
	if !stuck {
		b = g.s.begin(tagQmgr, g.qmgrPID)
		b = append(b, qid...)
		b = append(b, ": removed"...)
		g.s.emit(tr, b)
	}
	g.release(qid, tr, !stuck)
}

func (g *gen) qmgrActive(t int64, qid string, m *message) {
	b := g.s.begin(tagQmgr, g.qmgrPID)
	b = append(b, qid...)
	b = append(b, ": from=<"...)
	b = append(b, m.sender...)
	b = append(b, ">, size="...)
	b = strconv.AppendInt(b, int64(m.size), 10)
	b = append(b, ", nrcpt="...)
	b = strconv.AppendInt(b, int64(len(m.rcpts)), 10)
	b = append(b, " (queue active)"...)
	g.s.emit(t, b)
}

// deliveryLine writes one "to=<...>, relay=..., status=..." line at t for a
// message that arrived at t0 and became active at tq.
func (g *gen) deliveryLine(t, t0, tq int64, qid string, m *message, rc *rcpt, o outcome) {
	r := g.r
	var tag string
	var pid int
	switch rc.kind {
	case rcptLMTP:
		tag, pid = tagLMTP, g.pid(pidLMTP)
	case rcptVirtual:
		tag, pid = tagVirtual, g.pid(pidVirtual)
	case rcptRoot:
		tag, pid = tagLocal, g.pid(pidLocal)
	default:
		tag, pid = tagSMTP, g.pid(pidSMTP)
	}
	b := g.s.begin(tag, pid)
	b = append(b, qid...)
	b = append(b, ": to=<"...)
	b = append(b, rc.addr...)
	b = append(b, '>')
	if rc.kind == rcptRoot {
		b = append(b, ", orig_to=<root>"...)
	}
	b = append(b, ", relay="...)
	noRelay := o == oTimeout || o == oNoDomainTemp || o == oNoDomainPerm
	switch {
	case rc.kind == rcptLMTP:
		b = append(b, lmtpRelay...)
	case rc.kind == rcptVirtual:
		b = append(b, "virtual"...)
	case rc.kind == rcptRoot:
		b = append(b, "local"...)
	case noRelay:
		b = append(b, "none"...)
	default:
		b = append(b, rc.mx...)
		b = append(b, ":25"...)
	}
	// delays=a/b/c/d: before the queue manager, in it, connection setup, transmission.
	a := tq - t0
	d := t - tq
	bq := min(d/10, int64(r.between(0, 30_000)))
	c := int64(0)
	if rc.kind == rcptExternal || rc.kind == rcptNowhere {
		c = (d - bq) * int64(r.between(20, 70)) / 100
	}
	x := d - bq - c
	if noRelay {
		c, x = d-bq, 0
	}
	b = append(b, ", delay="...)
	b = appendDelay(b, t-t0)
	b = append(b, ", delays="...)
	b = appendDelay(b, a)
	b = append(b, '/')
	b = appendDelay(b, bq)
	b = append(b, '/')
	b = appendDelay(b, c)
	b = append(b, '/')
	b = appendDelay(b, x)
	b = append(b, ", dsn="...)
	host := rc.mx
	switch o {
	case oSent:
		b = append(b, "2.0.0, status=sent ("...)
		switch rc.kind {
		case rcptLMTP:
			b = append(b, "250 2.0.0 <"...)
			b = append(b, rc.addr...)
			b = append(b, "> "...)
			b = g.appendB64(b, 22)
			b = append(b, " Saved"...)
		case rcptVirtual:
			b = append(b, "delivered to maildir"...)
		case rcptRoot:
			b = append(b, "delivered to mailbox"...)
		default:
			b = g.appendSentReply(b, rc.style, m, t)
		}
	case oBadUser:
		b = append(b, "5.1.1, status=bounced (host "...)
		b = append(b, host...)
		b = append(b, " said: 550 5.1.1 <"...)
		b = append(b, rc.addr...)
		b = append(b, ">: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)"...)
	case oGreylist:
		b = append(b, "4.7.1, status=deferred (host "...)
		b = append(b, host...)
		b = append(b, " said: 450 4.7.1 <"...)
		b = append(b, rc.addr...)
		b = append(b, ">: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/"...)
		b = append(b, domainOf(rc.addr)...)
		b = append(b, ".html (in reply to RCPT TO command)"...)
	case oTimeout:
		b = append(b, "4.4.1, status=deferred (connect to "...)
		b = append(b, host...)
		b = append(b, ":25: Connection timed out"...)
	case oSpamDefer:
		b = append(b, "4.7.0, status=deferred (host "...)
		b = append(b, host...)
		b = append(b, " said: 421 4.7.0 [TSS04] Messages from "+serverIP+" temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes (in reply to MAIL FROM command)"...)
	case oSpamReject:
		b = append(b, "5.7.1, status=bounced (host "...)
		b = append(b, host...)
		switch rc.style {
		case 1:
			b = append(b, " said: 550-5.7.1 ["+serverIP+"] Our system has detected that this message is 550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail, 550-5.7.1 this message has been blocked. For more information, go to 550 5.7.1  https://support.google.com/mail/?p=UnsolicitedMessageError "...)
			b = g.appendB64(b, 10)
			b = append(b, " - gsmtp (in reply to end of DATA command)"...)
		case 2:
			b = append(b, " said: 550 5.7.1 Unfortunately, messages from ["+serverIP+"] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140). (in reply to MAIL FROM command)"...)
		default:
			if r.chance(0.5) {
				b = append(b, " said: 554 5.7.1 Service unavailable; Client host ["+serverIP+"] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/"+serverIP+" (in reply to RCPT TO command)"...)
			} else {
				b = append(b, " said: 550 5.7.1 Message rejected as spam by Content Filtering. (in reply to end of DATA command)"...)
			}
		}
	case oNoDomainTemp:
		b = append(b, "4.4.3, status=deferred (Host or domain name not found. Name service error for name="...)
		b = append(b, domainOf(rc.addr)...)
		b = append(b, " type=MX: Host not found, try again"...)
	case oNoDomainPerm:
		b = append(b, "5.4.4, status=bounced (Host or domain name not found. Name service error for name="...)
		b = append(b, domainOf(rc.addr)...)
		b = append(b, " type=A: Host not found"...)
	}
	b = append(b, ')')
	g.s.emit(t, b)
}

func (g *gen) appendSentReply(b []byte, style uint8, m *message, t int64) []byte {
	switch style {
	case 1:
		b = append(b, "250 2.0.0 OK  "...)
		b = strconv.AppendInt(b, t/usSec, 10)
		b = append(b, ' ')
		b = g.appendB64(b, 10)
		b = append(b, " - gsmtp"...)
	case 2:
		b = append(b, "250 2.6.0 <"...)
		b = append(b, m.msgID...)
		b = append(b, "> [InternalId="...)
		b = strconv.AppendUint(b, g.r.u64()%10_000_000_000_000, 10)
		b = append(b, ", Hostname=AM9PR02MB7331.eurprd02.prod.outlook.com] "...)
		b = strconv.AppendInt(b, int64(m.size+2000), 10)
		b = append(b, " bytes in 0.121, 98.410 KB/sec Queued mail for delivery"...)
	case 3:
		b = append(b, "250 ok dirdel"...)
	case 4:
		b = append(b, "250 Requested mail action okay, completed: id="...)
		b = g.appendB64(b, 22)
	default:
		b = append(b, "250 2.0.0 Ok: queued as "...)
		b = g.appendHexID(b)
	}
	return b
}

// nonDelivery writes the bounce daemon's notice and the notification's own
// life; it returns the time of the notice.
func (g *gen) nonDelivery(t int64, qid string, m *message) int64 {
	r := g.r
	t += int64(r.between(2_000, 60_000))
	ndr := g.newQID(t)
	b := g.s.begin(tagBounce, g.pid(pidBounce))
	b = append(b, qid...)
	b = append(b, ": sender non-delivery notification: "...)
	b = append(b, ndr...)
	g.s.emit(t, b)

	n := &g.ndrMsg
	n.sender = ""
	n.ndr = true
	n.spam = 0
	n.filter = false
	n.size = m.size/4 + r.between(2500, 6000)
	n.msgID = g.ndrMsgID(t, ndr)
	n.rcpts = append(n.rcpts[:0], g.rcptFor(m.sender))
	g.queueMessage(t, t+int64(r.between(100, 2_000)), t+int64(r.between(2_000, 30_000)), ndr, n, false)
	return t
}

// rcptFor classifies an address this server sends to.
func (g *gen) rcptFor(addr string) rcpt {
	if u, ok := g.w.byLogin[addr]; ok {
		return rcpt{addr: addr, kind: u.local}
	}
	d := domainOf(addr)
	if f, ok := g.forged[d]; ok && !f {
		// No MX; the rare successful delivery goes to the A record.
		return rcpt{addr: addr, kind: rcptNowhere, mx: d + "[" + g.fakeIP(hashString(d)) + "]"}
	}
	return g.externalRcpt(addr, d)
}

func (g *gen) externalRcpt(addr, d string) rcpt {
	for i := range providers {
		for _, pd := range providers[i].domains {
			if pd == d {
				return rcpt{addr: addr, kind: rcptExternal, style: providers[i].style, mx: providers[i].mx}
			}
		}
	}
	h := hashString(d)
	if len(g.w.partners) > 0 {
		i := int(h % uint64(len(g.w.partners)))
		if g.w.partners[i] == d {
			return rcpt{addr: addr, kind: rcptExternal, mx: g.w.partnerMX[i]}
		}
	}
	return rcpt{addr: addr, kind: rcptExternal, mx: "mx." + d + "[" + g.fakeIP(h) + "]"}
}

func (g *gen) fakeIP(h uint64) string {
	b := make([]byte, 0, 15)
	b = strconv.AppendInt(b, int64(inboundOctets[h%uint64(len(inboundOctets))]), 10)
	for i := 0; i < 3; i++ {
		h >>= 8
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(1+h%254), 10)
	}
	return string(b)
}

func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func domainOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == '@' {
			return addr[i+1:]
		}
	}
	return addr
}

// filterHop sends the message through an amavis-style content filter on
// 127.0.0.1:10024, which re-injects it on 10025 under a new queue id.
func (g *gen) filterHop(t0, tq int64, qid string, m *message) {
	r := g.r
	tIn := tq + int64(r.between(100_000, 900_000))
	newID := g.newQID(tIn)
	pid := g.pid(pidFilterSmtpd)
	b := g.s.begin(tagFilterIn, pid)
	b = append(b, "connect from localhost[127.0.0.1]"...)
	g.s.emit(tIn-20_000, b)
	b = g.s.begin(tagFilterIn, pid)
	b = append(b, newID...)
	b = append(b, ": client=localhost[127.0.0.1], orig_queue_id="...)
	b = append(b, qid...)
	b = append(b, ", orig_client="...)
	b = append(b, m.client...)
	g.s.emit(tIn, b)
	tDone := tIn + int64(r.between(50_000, 400_000))
	g.queueMessage(tIn, tIn+int64(r.between(5_000, 40_000)), tDone-10_000, newID, m, false)
	b = g.s.begin(tagFilterIn, pid)
	b = append(b, "disconnect from localhost[127.0.0.1] ehlo=1 xforward=1 mail=1 rcpt="...)
	b = strconv.AppendInt(b, int64(len(m.rcpts)), 10)
	b = append(b, " data=1 quit=1 commands="...)
	b = strconv.AppendInt(b, int64(5+len(m.rcpts)), 10)
	g.s.emit(tDone, b)

	apid := g.pid(pidAmavis)
	b = g.s.begin(tagAmavis, apid)
	b = append(b, '(')
	b = strconv.AppendInt(b, int64(apid), 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(r.between(1, 40)), 10)
	if m.spam > 0 && r.chance(0.4) {
		b = append(b, ") Passed SPAMMY {RelayedTaggedOutbound}, ORIGINATING LOCAL ["...)
	} else {
		b = append(b, ") Passed CLEAN {RelayedOutbound}, ORIGINATING LOCAL ["...)
	}
	b = append(b, "127.0.0.1]:"...)
	b = strconv.AppendInt(b, int64(r.between(32768, 60999)), 10)
	b = append(b, " <"...)
	b = append(b, m.sender...)
	b = append(b, "> -> <"...)
	b = append(b, m.rcpts[0].addr...)
	b = append(b, ">, Queue-ID: "...)
	b = append(b, qid...)
	b = append(b, ", Message-ID: <"...)
	b = append(b, m.msgID...)
	b = append(b, ">, mail_id: "...)
	b = g.appendB64(b, 12)
	b = append(b, ", Hits: -"...)
	b = strconv.AppendInt(b, int64(r.between(0, 2)), 10)
	b = append(b, ".1, size: "...)
	b = strconv.AppendInt(b, int64(m.size), 10)
	b = append(b, ", queued_as: "...)
	b = append(b, newID...)
	b = append(b, ", "...)
	b = strconv.AppendInt(b, (tDone-tq)/1000, 10)
	b = append(b, " ms"...)
	g.s.emit(tDone+10_000, b)

	td := tDone + 20_000
	for i := range m.rcpts {
		b = g.s.begin(tagSMTP, g.pid(pidSMTP))
		b = append(b, qid...)
		b = append(b, ": to=<"...)
		b = append(b, m.rcpts[i].addr...)
		b = append(b, ">, relay=127.0.0.1[127.0.0.1]:10024, delay="...)
		b = appendDelay(b, td-t0)
		b = append(b, ", delays="...)
		b = appendDelay(b, tq-t0)
		b = append(b, "/0/0/"...)
		b = appendDelay(b, td-tq)
		b = append(b, ", dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as "...)
		b = append(b, newID...)
		b = append(b, ')')
		g.s.emit(td, b)
	}
	tr := td + int64(r.between(1_000, 30_000))
	b = g.s.begin(tagQmgr, g.qmgrPID)
	b = append(b, qid...)
	b = append(b, ": removed"...)
	g.s.emit(tr, b)
	g.release(qid, tr, true)
}

const b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func (g *gen) appendB64(b []byte, n int) []byte {
	x := g.r.u64()
	for i := 0; i < n; i++ {
		if i%10 == 9 {
			x = g.r.u64()
		}
		b = append(b, b64chars[x&63])
		x >>= 6
	}
	return b
}

func (g *gen) appendHexID(b []byte) []byte {
	const hex = "0123456789ABCDEF"
	x := g.r.u64()
	for i := 0; i < 10; i++ {
		b = append(b, hex[x&15])
		x >>= 4
	}
	return b
}

func (g *gen) ndrMsgID(t int64, qid string) string {
	b := make([]byte, 0, 48)
	b = append(b, appendCompactTime(nil, t)...)
	b = append(b, '.')
	b = append(b, qid...)
	b = append(b, '@')
	b = append(b, serverName...)
	return string(b)
}

// appendCompactTime appends YYYYMMDDhhmmss of t (UTC).
func appendCompactTime(b []byte, t int64) []byte {
	s := appendStamp(nil, FormatRFC3339, t/usSec)
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b = append(b, c)
		}
	}
	return b
}

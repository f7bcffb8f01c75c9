// Package event defines what the daemon parsers extract from mail log lines:
// one Event per understood line, the common currency between the parsers
// (postfixlog, dovecotlog, eximlog), the correlator and the detector.
//
// Events produced by the parsers may hold strings that point into the
// reader's buffers: a consumer that keeps a string beyond the processing of
// the event must copy it (strings.Clone or an interner).
package event

import "time"

// Kind says what a line reported.
type Kind uint8

// The kinds of event. The comments show the Postfix line each stands for.
const (
	None Kind = iota
	// Client: smtpd "QID: client=name[ip], sasl_method=M, sasl_username=L".
	// Login is empty for unauthenticated mail.
	Client
	// AuthFailure: a failed authentication (Postfix SASL warning, Dovecot
	// passdb or login-process failure). Login may be empty when the log
	// did not name it.
	AuthFailure
	// Login: a successful non-SMTP login (Dovecot imap-login/pop3-login).
	Login
	// Pickup: pickup "QID: uid=N from=<sender>" (local submission).
	Pickup
	// MessageID: cleanup "QID: message-id=<id>".
	MessageID
	// From: qmgr "QID: from=<sender>, size=N, nrcpt=N (queue active)".
	From
	// Expired: qmgr "QID: from=<sender>, status=expired, returned to sender".
	Expired
	// Delivery: a delivery agent's "QID: to=<rcpt>, relay=..., status=S (reply)".
	Delivery
	// Notify: bounce "QID: sender non-delivery notification: NEWQID";
	// NewQID is the bounce message's queue id.
	Notify
	// Removed: qmgr or postsuper "QID: removed".
	Removed
	// Reject: smtpd or cleanup "NOQUEUE: reject: ..." / "QID: reject: ...".
	Reject
	// Hold: "QID: placed on hold" or a cleanup "hold:" action.
	Hold
	// Release: postsuper "QID: released from hold".
	Release
	// Disconnect: smtpd "disconnect from name[ip] ... auth=N/M ...".
	Disconnect
	// Suppressed: journald "Suppressed N messages from ..."; N in Count.
	Suppressed
	// Ignored: a line that was understood and carries nothing saslguard
	// uses (connect, TLS chatter, statistics).
	Ignored
	// Arrival: Exim's "ID <= sender H=... P=esmtpa A=auth:login S=N"
	// line, which says in one line what Postfix's Client and From lines
	// say: the login, the client, the sender, the size and (with
	// +received_recipients) the recipients' count. A local submission
	// (no client address, no login) stands for Postfix's Pickup and From.
	Arrival
)

var kindNames = [...]string{
	None: "none", Client: "client", AuthFailure: "auth-failure", Login: "login",
	Pickup: "pickup", MessageID: "message-id", From: "from", Expired: "expired",
	Delivery: "delivery", Notify: "notify", Removed: "removed", Reject: "reject",
	Hold: "hold", Release: "release", Disconnect: "disconnect",
	Suppressed: "suppressed", Ignored: "ignored", Arrival: "arrival",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Source says which program family produced an event.
type Source uint8

// Sources.
const (
	Postfix Source = iota + 1
	Dovecot
	Journal
	Exim
)

// Event is what one log line says. Fields not set by a kind are zero.
type Event struct {
	Time time.Time
	// YearGuessed is set when the line's stamp had no year (classic BSD
	// syslog) and Time's year is the parser's assumption.
	YearGuessed bool
	Host        string
	Program     string // syslog tag without the pid: "postfix/submission/smtpd"
	PID         int
	Source      Source
	Kind        Kind
	// Count is how many times the line stands: 1, or N for rsyslog's
	// "message repeated N times: [...]".
	Count int

	QID        string // queue id, empty for NOQUEUE
	NewQID     string // Notify: the bounce's id; Delivery: the "queued as" id
	OrigQID    string // Client: orig_queue_id=; Pickup: orig_id= (the message this one continues)
	Login      string // sasl_username, Dovecot user
	Method     string // sasl_method
	ClientName string
	ClientIP   string
	Service    string // Dovecot: imap, pop3, submission...; Postfix: syslog_name middle part
	Sender     string // envelope sender without <>; "" for the null sender
	Recipient  string
	Size       int64
	Nrcpt      int
	Status     string // Delivery: sent, deferred, bounced, expired...
	DSN        string
	Relay      string
	Reply      string // remote reply or reject text
	MessageID  string
	// AuthOK and AuthTotal come from smtpd's "auth=OK/TOTAL" disconnect
	// counter (AuthTotal==0 when absent).
	AuthOK, AuthTotal int

	// Derived fields, filled by correlate.Prepare (in the parallel parse
	// stage, so that the sequential correlator does less).
	Prepared       bool
	HostHash       uint64 // hash of Host
	LoginHash      uint64 // hash of Login (in lower case)
	QKey           QKey   // HostHash and QID: the correlator's key for the message
	SenderDomain   string // lower case
	Spam           bool   // a deferral or bounce that speaks of spam or reputation
	LocalRelay     bool   // relay= is this host (content filter, local delivery)
	LocalDelivery  bool   // a final local delivery (mailbox), not a filter hop
	LoopbackClient bool   // Client: the client address is loopback (a content filter's re-injection)
}

// QKey names a queue id on a host without allocating: the correlator's map
// key for a message. Queue ids are at most 21 bytes (longer ones are cut:
// they are not Postfix's); hosts go by a hash of their name.
type QKey struct {
	Host uint64
	N    uint8
	B    [21]byte
}

// MakeQKey returns the key of qid on the host whose name hashes to host.
func MakeQKey(host uint64, qid string) QKey {
	k := QKey{Host: host}
	k.N = uint8(copy(k.B[:], qid))
	return k
}

// ID returns the queue id.
func (k *QKey) ID() string { return string(k.B[:k.N]) }

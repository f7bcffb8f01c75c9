package correlate

import (
	"strings"
	"time"
	"unsafe"

	"github.com/saslguard/saslguard/internal/detect"
)

// Account is what one SMTP AUTH login did, as far as the log tells.
type Account struct {
	Login string // lower case
	// loginBuf holds Login when it is short (most are): finding an account
	// compares the login without a cache miss on another allocation
	loginBuf [loginInline]byte
	Method   string

	First, Last time.Time

	Sessions         int
	Messages         int // submitted with this login
	Recipients       int
	FilterCopies     int
	Bounces          int // notifications its messages caused
	Sent             int // recipients, by final outcome
	Deferred         int
	Bounced          int
	Expired          int
	RemoteRejections int // deferrals and bounces that speak of spam or reputation
	Refused          int // its commands refused by this server (e.g. once blocked)
	ForeignMessages  int

	FailedLogins       int // failures naming this login
	FailuresFromItsIPs int // failures (any name) from IPs that later logged in as it
	FirstFailure       time.Time
	LastFailure        time.Time
	OtherLogins        int // IMAP/POP3 logins (Dovecot)

	// the counters are part of the account (not pointers to it): each
	// message reads several, and each pointer followed is a cache miss
	IPs               Counter
	Nets              Counter
	SenderDomains     Counter
	ForeignDomains    Counter
	FailureIPs        Counter
	OtherIPs          Counter
	RejectionExamples []string

	// QueueIDs of the evidence: messages of the compromise (from its start)
	// and the filter copies and bounces they led to; capped, QueueIDCount
	// counts them all.
	QueueIDs     []string
	QueueIDCount int

	recent     []timedQID           // recent suspicious message ids, before a verdict
	otherFirst map[string]time.Time // first IMAP/POP3 login per IP
	state      detect.State         // part of the account for the same reason as the counters

	sameHash *Account // the next account whose login has the same hash (Correlator.byHash)
}

type timedQID struct {
	t   time.Time
	qid string
}

func newAccount(login string, t time.Time) *Account {
	a := &Account{
		First: t, Last: t,
		IPs: Counter{limit: 10000}, Nets: Counter{limit: 10000},
		SenderDomains: Counter{limit: 10000}, ForeignDomains: Counter{limit: 10000},
		FailureIPs: Counter{limit: 10000}, OtherIPs: Counter{limit: 1000},
	}
	a.setLogin(login)
	return a
}

const loginInline = 48

// setLogin sets the account's own copy of login (in loginBuf when it fits;
// the string never changes, and it keeps the account alive).
func (a *Account) setLogin(login string) {
	if len(login) == 0 || len(login) > loginInline {
		a.Login = strings.Clone(login)
		return
	}
	n := copy(a.loginBuf[:], login)
	a.Login = unsafe.String(&a.loginBuf[0], n)
}

// Detector returns the detector's state for this login.
func (a *Account) Detector() *detect.State { return &a.state }

func (a *Account) touch(t time.Time) {
	if t.Before(a.First) {
		a.First = t
	}
	if t.After(a.Last) {
		a.Last = t
	}
}

func (a *Account) tally(status string, n int) {
	switch status {
	case "sent":
		a.Sent += n
	case "deferred":
		a.Deferred += n
	case "bounced":
		a.Bounced += n
	case "expired":
		a.Expired += n
	}
}

func (a *Account) addQID(m *Message, limit int) {
	if a.state.Verdict() != detect.Compromised {
		a.remember(m)
		return
	}
	a.QueueIDCount++
	if len(a.QueueIDs) < limit {
		a.QueueIDs = append(a.QueueIDs, m.ID())
	}
}

const recentKept = 256

func (a *Account) remember(m *Message) {
	if len(a.recent) >= recentKept {
		copy(a.recent, a.recent[1:])
		a.recent = a.recent[:recentKept-1]
	}
	a.recent = append(a.recent, timedQID{m.Last, m.ID()})
}

// evidence records the message as evidence. When the verdict has just
// become compromised, the remembered messages since the start join first.
func (a *Account) evidence(m *Message, t time.Time, limit int, justCompromised bool) {
	if justCompromised {
		start := a.state.Start()
		for _, r := range a.recent {
			if !r.t.Before(start) && r.qid != m.ID() {
				a.QueueIDCount++
				if len(a.QueueIDs) < limit {
					a.QueueIDs = append(a.QueueIDs, r.qid)
				}
			}
		}
		a.recent = nil
	}
	a.addQID(m, limit)
}

package gridgen

import (
	"fmt"
	"strings"
	"time"
)

// org is the organisation whose server writes the log.
type org struct {
	domain  string
	users   []string // full addresses of ordinary users
	userSet map[string]bool
	office  client // the office's NAT address
	homes   map[string]client
	extra   []string // other own domains (a lists. subdomain)
}

func (o *org) local(dom string) bool {
	if dom == o.domain {
		return true
	}
	for _, d := range o.extra {
		if d == dom {
			return true
		}
	}
	return false
}

func (o *org) isUser(addr string) bool { return o.userSet[strings.ToLower(addr)] }

var orgDomains = []string{
	"kanzlei-weber.de", "hofmann-bau.de", "northwind-traders.com", "alpenblick-hotel.at",
	"studio-lumen.fr", "meyer-logistik.de", "acme-clinic.org", "riverside-school.org.uk",
	"bakkerij-jansen.nl", "tecnoval.es", "fjordline-shipping.no", "praxis-sommer.de",
}

var firstNames = []string{
	"anna", "ben", "clara", "david", "eva", "felix", "greta", "hugo", "ines", "jonas", "karla", "lukas",
	"mia", "noah", "olga", "paul", "rosa", "sven", "tina", "uwe", "vera", "willem", "xenia", "yusuf", "zoe",
	"marco", "sofia", "pierre", "chloe", "lars", "ingrid", "pablo", "lucia",
}

var lastNames = []string{
	"schmidt", "mueller", "weber", "fischer", "wagner", "becker", "hoffmann", "koch", "richter", "klein",
	"wolf", "neumann", "dubois", "martin", "jansen", "devries", "garcia", "lopez", "rossi", "berg", "nilsen",
}

// public first octets of access networks (DSL, cable, mobile) and of
// hosting and botnet space, so addresses look like the Internet's.
var (
	accessOctets  = []int{31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 109, 176, 178, 188, 193, 194, 195, 212, 213, 217}
	hostileOctets = []int{5, 14, 23, 27, 36, 41, 42, 45, 58, 59, 102, 103, 104, 105, 113, 116, 117, 125, 154, 156, 171, 175, 177, 179, 180, 181, 186, 187, 190, 196, 197, 200, 201, 222}
)

func ipIn(r *rng, octets []int) string {
	return fmt.Sprintf("%d.%d.%d.%d", pick(r, octets), r.intn(256), r.intn(256), r.between(1, 254))
}

// ipNear returns an address in the same /16 as ip (a mobile carrier's
// pool, a hosting block).
func ipNear(r *rng, ip string) string {
	p := strings.SplitN(ip, ".", 3)
	return fmt.Sprintf("%s.%s.%d.%d", p[0], p[1], r.intn(256), r.between(1, 254))
}

// accessClient names an access-network client as reverse DNS would, or
// leaves it unknown, as Postfix logs a client without a PTR.
func accessClient(r *rng, ip string) client {
	if r.chance(0.4) {
		return client{"unknown", ip}
	}
	d := strings.ReplaceAll(ip, ".", "-")
	isp := pick(r, []string{"dip0.t-ipconnect.de", "dynamic.kabel-deutschland.de", "customers.d1-online.com", "fbx.proxad.net", "cable.virginm.net", "static.kpn.net", "bb.sky.com", "adsl.telenor.no", "red-acceso.es", "versanet.de"})
	return client{fmt.Sprintf("p%s.%s", d, isp), ip}
}

func hostileClient(r *rng, ip string) client {
	if r.chance(0.75) {
		return client{"unknown", ip}
	}
	d := strings.ReplaceAll(ip, ".", "-")
	return client{fmt.Sprintf("%s.%s", d, pick(r, []string{"static.vnpt.vn", "hostwindsdns.com", "rev.poneytelecom.eu", "ip.linodeusercontent.com", "vultrusercontent.com", "dynamic.163data.com.cn", "client.mchsi.com", "static.tpgi.com.au"})), ip}
}

// newOrg builds the organisation: its domain, users, office and homes.
func newOrg(r *rng, users int) *org {
	o := &org{domain: pick(r, orgDomains), userSet: map[string]bool{}, homes: map[string]client{}}
	o.office = client{"unknown", ipIn(r, accessOctets)}
	if r.chance(0.5) {
		o.office.name = "gw." + o.domain
	}
	seen := map[string]bool{}
	for len(o.users) < users {
		var lp string
		switch r.intn(3) {
		case 0:
			lp = pick(r, firstNames) + "." + pick(r, lastNames)
		case 1:
			lp = pick(r, firstNames)[:1] + "." + pick(r, lastNames)
		default:
			lp = pick(r, firstNames)
		}
		if seen[lp] {
			continue
		}
		seen[lp] = true
		a := lp + "@" + o.domain
		o.users = append(o.users, a)
		o.userSet[a] = true
		o.homes[a] = accessClient(r, ipIn(r, accessOctets))
	}
	return o
}

// addUser adds a login's address to the organisation's users (mail to it
// is delivered locally).
func (o *org) addUser(a string) {
	if !o.userSet[a] {
		o.userSet[a] = true
	}
}

// Recipient domains of the outside world, with their MX and answers.
type mx struct {
	host, ip string
	kind     string
}

var freemail = []string{"gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "gmx.de", "web.de", "t-online.de", "orange.fr", "libero.it", "icloud.com", "mail.ru", "aol.com"}

var partnerDomains = []string{"steuerberatung-lang.de", "printshop24.de", "bluewave-it.com", "haus-und-grund-ost.de", "logimax.eu", "cafe-central.at", "greenfield-supplies.co.uk", "nordbank-leasing.de", "atelier-roux.fr", "vandenberg-advocaten.nl"}

func mxOf(r *rng, dom string) mx {
	switch dom {
	case "gmail.com":
		return mx{"gmail-smtp-in.l.google.com", fmt.Sprintf("142.250.%d.%d", 100+r.intn(100), r.between(2, 250)), "google"}
	case "outlook.com", "hotmail.com":
		return mx{dom[:strings.IndexByte(dom, '.')] + "-com.olc.protection.outlook.com", fmt.Sprintf("52.101.%d.%d", r.intn(200), r.between(2, 250)), "microsoft"}
	case "yahoo.com", "aol.com":
		return mx{fmt.Sprintf("mta%d.am0.yahoodns.net", r.between(5, 7)), fmt.Sprintf("67.195.204.%d", r.between(70, 80)), "yahoo"}
	case "gmx.de", "web.de":
		return mx{fmt.Sprintf("mx%02d.emig.gmx.net", r.intn(2)), fmt.Sprintf("212.227.15.%d", r.between(8, 12)), "gmx"}
	case "t-online.de":
		return mx{"mx00.t-online.de", "194.25.134.8", "tonline"}
	}
	h := "mx." + dom
	if r.chance(0.3) {
		h = dom + ".mail.protection.outlook.com"
		return mx{h, fmt.Sprintf("52.101.%d.%d", r.intn(200), r.between(2, 250)), "microsoft"}
	}
	return mx{h, ipIn(r, accessOctets), "other"}
}

func (m mx) accept(w *logw, t time.Time) string {
	switch m.kind {
	case "google":
		return fmt.Sprintf("250 2.0.0 OK  %d %s.%d - gsmtp", t.Unix(), strings.ToLower(w.token(12)), w.r.intn(1000))
	case "microsoft":
		return fmt.Sprintf("250 2.6.0 <%s> [InternalId=%d, Hostname=AM0PR%02dMB%04d.eurprd%02d.prod.outlook.com] %d bytes in 0.%03d, %d.%03d KB/sec Queued mail for delivery", w.token(10), w.r.u64()%1e13, w.r.intn(99), w.r.intn(9999), w.r.intn(9), w.r.between(2000, 40000), w.r.intn(999), w.r.intn(900), w.r.intn(999))
	case "yahoo":
		return "250 ok dirdel"
	case "gmx":
		return fmt.Sprintf("250 Requested mail action okay, completed: id=1M%s", w.token(14))
	case "tonline":
		return "250 2.0.0 Message accepted."
	}
	return fmt.Sprintf("250 2.0.0 Ok: queued as %X", w.r.u64()&0xffffffffff)
}

// reject is a remote refusal that names spam, a block list or reputation,
// in the words each big provider uses.
func (m mx) reject(w *logw) string {
	ip := w.pubIP
	switch m.kind {
	case "google":
		return fmt.Sprintf("550-5.7.1 [%s      12] Our system has detected that this message is 550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail, 550-5.7.1 this message has been blocked. For more information, go to 550 5.7.1  https://support.google.com/mail/?p=UnsolicitedMessageError %s.%d - gsmtp (in reply to end of DATA command)", ip, strings.ToLower(w.token(12)), w.r.intn(1000))
	case "microsoft":
		return fmt.Sprintf("550 5.7.1 Unfortunately, messages from [%s] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [%s.eurprd%02d.prod.outlook.com %d] (in reply to MAIL FROM command)", ip, w.token(12), w.r.intn(9), w.r.u64()%1e12)
	case "yahoo":
		return "554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes (in reply to end of DATA command)"
	case "gmx":
		return fmt.Sprintf("554-gmx.net (mxgmx%03d) Nemesis ESMTP Service not available 554-No SMTP service 554-IP address is black listed. 554 For explanation visit https://postmaster.gmx.net/en/case?c=r0301&i=ip&v=%s&r=%s (in reply to MAIL FROM command)", w.r.intn(120), ip, w.token(20))
	case "tonline":
		return fmt.Sprintf("554 IP=%s - A problem occurred. (Ask your postmaster for help or to contact tosa@rx.t-online.de to clarify.) (BL) (in reply to MAIL FROM command)", ip)
	}
	return fmt.Sprintf("554 5.7.1 Service unavailable; Client host [%s] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/%s (in reply to RCPT TO command)", ip, ip)
}

// deferral is a temporary refusal for volume, complaints or spam.
func (m mx) deferral(w *logw) string {
	ip := w.pubIP
	switch m.kind {
	case "google":
		return fmt.Sprintf("421-4.7.28 [%s      15] Our system has detected an unusual rate of 421-4.7.28 unsolicited mail originating from your IP address. To protect our 421-4.7.28 users from spam, mail sent from your IP address has been temporarily 421 4.7.28 rate limited. %s.%d - gsmtp (in reply to end of DATA command)", ip, strings.ToLower(w.token(12)), w.r.intn(1000))
	case "yahoo":
		return fmt.Sprintf("421 4.7.0 [TSS04] Messages from %s temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes (in reply to MAIL FROM command)", ip)
	case "microsoft":
		return fmt.Sprintf("451 4.7.500 Server busy. Please try again later from [%s]. (S77719) [%s.eurprd%02d.prod.outlook.com %d] (in reply to RCPT TO command)", ip, w.token(12), w.r.intn(9), w.r.u64()%1e12)
	}
	return fmt.Sprintf("450 4.7.1 Client host rejected: cannot find your reverse hostname, [%s] listed as spam source (in reply to RCPT TO command)", ip)
}

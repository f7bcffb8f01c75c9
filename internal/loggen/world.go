package loggen

import (
	"sort"
	"strconv"
	"strings"
)

const (
	orgDomain    = "corp.example"
	orgDomain2   = "corp-mail.example"
	serverIP     = "203.0.113.25"
	serverName   = "mx1.corp.example"
	lmtpRelay    = "mail.corp.example[private/dovecot-lmtp]"
	newsletter   = "newsletter@" + orgDomain
	notification = "notifications@" + orgDomain2
)

type userKind uint8

const (
	kindNormal userKind = iota
	kindHeavy
	kindTraveller
	kindBulk
)

type user struct {
	login  string // the SASL login, also the user's own address
	kind   userKind
	ips    []string // usual client addresses (home, office)
	travel []string // extra addresses of a traveller
	weight float64  // messages per working day
	local  rcptKind // how mail to the user is delivered
	sent   int      // messages sent so far (legitimately)
	victim bool
}

var firstNames = []string{"anna", "ben", "clara", "david", "emma", "felix", "greta", "hugo", "ida", "jonas",
	"karin", "lukas", "marie", "nils", "olga", "paul", "quinn", "rosa", "simon", "tina", "uwe", "vera",
	"walter", "xenia", "yusuf", "zoe", "alice", "bruno", "chloe", "dmitri", "elena", "farid", "gina",
	"henrik", "ines", "jakob", "kemal", "lea", "mats", "nora", "oskar", "petra", "rafael", "sofia",
	"tobias", "ulla", "viktor", "wanda", "yara", "amir", "beate", "carlos", "dana", "erik", "fatima",
	"gustav", "hanna", "ivan", "julia", "kai"}

var lastNames = []string{"schmidt", "mueller", "weber", "fischer", "meyer", "wagner", "becker", "hoffmann",
	"koch", "richter", "klein", "wolf", "neumann", "schwarz", "braun", "zimmermann", "krueger", "hartmann",
	"lange", "werner", "martin", "bernard", "dubois", "laurent", "rossi", "russo", "ferrari", "garcia",
	"lopez", "martinez", "novak", "kowalski", "nowak", "jensen", "hansen", "larsen", "berg", "lindqvist",
	"smith", "jones", "taylor", "brown", "wilson", "evans", "walker", "murphy", "kelly", "obrien",
	"yilmaz", "demir", "sahin", "petrov", "ivanova", "silva", "santos", "costa", "oliveira", "kim"}

// Brute-force name lists: names that do not exist here.
var bogusLocal = []string{"admin", "info", "test", "sales", "support", "office", "contact", "webmaster",
	"postmaster", "root", "user", "mail", "marketing", "billing", "hr", "jobs", "noreply", "backup",
	"scanner", "demo", "guest", "service", "account", "finance", "abuse", "helpdesk", "newsletter1", "temp"}

// First octets: legitimate users, travellers and attackers come from
// disjoint ranges so that tests can tell them apart.
var (
	homeOctets     = []int{24, 31, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95}
	travelOctets   = []int{1, 14, 27, 36, 49, 58, 101, 110, 114, 124, 175, 180, 186, 189, 190, 200, 201}
	attackerOctets = []int{5, 23, 37, 41, 45, 102, 103, 104, 105, 141, 176, 185, 193, 194, 195, 196, 197, 212, 213, 217}
	inboundOctets  = []int{13, 20, 40, 52, 64, 66, 69, 72, 74, 98, 99, 107, 108, 128, 130, 134, 136, 144, 146, 148}
)

func appendHex16(b []byte, v uint64) []byte { return strconv.AppendUint(b, v&0xffff, 16) }

func ipv4(r *rng, octets []int) string {
	b := make([]byte, 0, 15)
	b = strconv.AppendInt(b, int64(pick(r, octets)), 10)
	for i := 0; i < 3; i++ {
		b = append(b, '.')
		lo := 0
		if i == 2 {
			lo = 1
		}
		b = strconv.AppendInt(b, int64(r.between(lo, 254)), 10)
	}
	return string(b)
}

func ipv6(r *rng, prefix string) string {
	b := []byte(prefix)
	for i := 0; i < 2; i++ {
		b = append(b, ':')
		b = appendHex16(b, r.u64())
	}
	b = append(b, ':', ':')
	b = appendHex16(b, r.u64())
	b = append(b, ':')
	b = appendHex16(b, r.u64())
	return string(b)
}

var homeV6 = []string{"2a02:8108", "2a02:810d", "2003:e4", "2a01:c23", "2a0a:a540"}
var travelV6 = []string{"2001:db8", "2400:4050", "2600:1700", "2804:14c", "2001:ee0"}
var attackerV6 = []string{"2a0e:97c0", "2a06:a005", "2604:a880"}

// provider is an external destination with its MX and reply style.
type provider struct {
	domains []string
	mx      string // relay= value without port
	style   uint8  // reply style, see deliveryReply
}

var providers = []provider{
	{[]string{"gmail.com", "googlemail.com"}, "gmail-smtp-in.l.google.com[142.250.27.26]", 1},
	{[]string{"outlook.com", "hotmail.com", "live.com"}, "outlook-com.olc.protection.outlook.com[52.101.68.18]", 2},
	{[]string{"yahoo.com", "ymail.com", "aol.com"}, "mta6.am0.yahoodns.net[67.195.204.77]", 3},
	{[]string{"gmx.de", "web.de", "gmx.net"}, "mx00.emig.gmx.net[212.227.15.9]", 4},
	{[]string{"orange.fr", "free.fr", "libero.it", "t-online.de"}, "smtp-in.orange.fr[193.252.22.84]", 0},
}

// world is the fixed population of one generated log.
type world struct {
	users     []*user
	cum       []float64 // cumulative weights of users for sending
	byLogin   map[string]*user
	heavy     []*user
	bulk      []*user
	offices   []string
	partners  []string // partner domains with their own MX
	partnerMX []string
}

func buildWorld(r *rng, nUsers int) *world {
	w := &world{byLogin: map[string]*user{}}
	w.offices = []string{"198.51.100.10", "198.51.100.11", "192.0.2.200"}
	seen := map[string]bool{}
	for len(w.users) < nUsers {
		f, l := pick(r, firstNames), pick(r, lastNames)
		var login string
		switch {
		case r.chance(0.8):
			login = f + "." + l + "@" + orgDomain
		default:
			login = f[:1] + l + "@" + orgDomain2
		}
		if seen[login] {
			at := strings.IndexByte(login, '@')
			login = login[:at] + strconv.Itoa(r.between(2, 99)) + login[at:]
			if seen[login] {
				continue
			}
		}
		seen[login] = true
		u := &user{login: login, kind: kindNormal, weight: 0.5 + r.exp(2.5)}
		if u.weight > 12 {
			u.weight = 12
		}
		if r.chance(0.7) {
			u.ips = append(u.ips, pick(r, w.offices))
		}
		if r.chance(0.12) {
			u.ips = append(u.ips, ipv6(r, pick(r, homeV6)))
		} else {
			u.ips = append(u.ips, ipv4(r, homeOctets))
		}
		u.local = rcptLMTP
		if len(login) > len(orgDomain2) && login[len(login)-len(orgDomain2):] == orgDomain2 {
			u.local = rcptVirtual
		}
		w.users = append(w.users, u)
	}
	// Heavy senders and travellers are ordinary users with another habit.
	nHeavy := max(3, nUsers/400)
	for i := 0; i < nHeavy; i++ {
		u := w.users[i*7%len(w.users)]
		if u.kind != kindNormal {
			continue
		}
		u.kind = kindHeavy
		u.weight = float64(r.between(40, 80))
		w.heavy = append(w.heavy, u)
	}
	nTravel := max(4, nUsers/100)
	for i := 0; i < nTravel; i++ {
		u := w.users[(i*13+5)%len(w.users)]
		if u.kind != kindNormal {
			continue
		}
		u.kind = kindTraveller
		u.weight = max(u.weight, 2)
		n := r.between(8, 25)
		for j := 0; j < n; j++ {
			if r.chance(0.25) {
				u.travel = append(u.travel, ipv6(r, pick(r, travelV6)))
			} else {
				u.travel = append(u.travel, ipv4(r, travelOctets))
			}
		}
	}
	for _, login := range []string{newsletter, notification} {
		u := &user{login: login, kind: kindBulk, local: rcptLMTP}
		if login == notification {
			u.local = rcptVirtual
		}
		u.ips = []string{ipv4(r, homeOctets)}
		if r.chance(0.5) || login == newsletter {
			u.ips = append(u.ips, ipv4(r, homeOctets))
		}
		w.bulk = append(w.bulk, u)
	}
	for _, u := range w.users {
		w.byLogin[u.login] = u
	}
	for _, u := range w.bulk {
		w.byLogin[u.login] = u
	}
	total := 0.0
	for _, u := range w.users {
		total += u.weight
		w.cum = append(w.cum, total)
	}
	for i := 0; i < 60; i++ {
		d := pick(r, partnerWords) + "-" + pick(r, partnerWords2) + "." + pick(r, []string{"com", "de", "fr", "eu", "net", "example"})
		w.partners = append(w.partners, d)
		w.partnerMX = append(w.partnerMX, "mx"+strconv.Itoa(r.between(1, 3))+"."+d+"["+ipv4(r, inboundOctets)+"]")
	}
	return w
}

var partnerWords = []string{"nord", "sued", "alpen", "rhein", "delta", "nova", "prima", "atlas", "vista", "terra", "blue", "green"}
var partnerWords2 = []string{"logistik", "bau", "consult", "tech", "media", "foods", "partners", "systems", "print", "energy", "legal", "trade"}

// sender picks a user by sending weight.
func (w *world) sender(r *rng) *user {
	x := r.f64() * w.cum[len(w.cum)-1]
	i := sort.SearchFloat64s(w.cum, x)
	if i >= len(w.users) {
		i = len(w.users) - 1
	}
	return w.users[i]
}

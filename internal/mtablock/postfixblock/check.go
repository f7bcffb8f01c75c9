package postfixblock

import (
	"context"
	"fmt"

	"path/filepath"
	"slices"
	"strings"

	"github.com/saslguard/saslguard/internal/queue/postfixq"
)

// The restriction lists that Postfix evaluates at RCPT time, after AUTH, in
// order. A REJECT from check_sasl_access in either one refuses the recipient.
var rcptLists = []string{"smtpd_relay_restrictions", "smtpd_recipient_restrictions"}

// ServiceCheck is the verdict for one smtpd service of master.cf.
type ServiceCheck struct {
	Service string // master.cf name/type, e.g. "submission/inet"
	AUTH    bool   // smtpd_sasl_auth_enable is on for it
	// Effective is true when check_sasl_access with this map comes before
	// any permit_sasl_authenticated or permit in a list it evaluates.
	Effective bool
	List      string   // the list where the map is effective
	Problem   string   // why it is not effective
	Warnings  []string // other elements that may let a login pass first
	// FixMain and FixMaster are the lines that would make it effective:
	// a main.cf setting, or a -o override for this service's master.cf
	// entry ("-o name=value", no white space; postconf -P
	// 'service/type/name=value' applies it).
	FixMain   string
	FixMaster string
}

// Check is the verdict for a Postfix instance.
type Check struct {
	MapRef   string
	Services []ServiceCheck
}

// Effective is true when at least one service offers AUTH and every service
// that does evaluates the map.
func (c Check) Effective() bool {
	auth := 0
	for _, s := range c.Services {
		if !s.AUTH {
			continue
		}
		auth++
		if !s.Effective {
			return false
		}
	}
	return auth > 0
}

// Notes describes the check in sentences, with the fixes.
func (c Check) Notes() []string {
	var notes []string
	auth := 0
	for _, s := range c.Services {
		if !s.AUTH {
			continue
		}
		auth++
		if s.Effective {
			notes = append(notes, fmt.Sprintf("%s: %s is checked in %s", s.Service, c.MapRef, s.List))
		} else {
			notes = append(notes, fmt.Sprintf("%s: NOT effective: %s", s.Service, s.Problem))
			if s.FixMaster != "" {
				notes = append(notes, fmt.Sprintf("%s: add to its master.cf entry: %s", s.Service, s.FixMaster))
			}
			if s.FixMain != "" {
				notes = append(notes, fmt.Sprintf("%s: or set in main.cf: %s", s.Service, s.FixMain))
			}
		}
		for _, w := range s.Warnings {
			notes = append(notes, s.Service+": warning: "+w)
		}
	}
	if auth == 0 {
		notes = append(notes, "no smtpd service has smtpd_sasl_auth_enable=yes: nothing to block")
	}
	return notes
}

// Check asks postconf for the smtpd services (postconf -F), their master.cf
// overrides (postconf -P -x) and the main.cf values, and decides per service
// whether the map is effective.
func (m *Map) Check(ctx context.Context) (Check, error) {
	run := func(args ...string) ([]byte, error) { return m.postconf(ctx, args...) }
	f, err := run("-F", "*/*/command")
	if err != nil {
		return Check{}, err
	}
	p, err := run("-P", "-x")
	if err != nil {
		return Check{}, err
	}
	mainOut, err := run(append([]string{"-x", "smtpd_sasl_auth_enable"}, rcptLists...)...)
	if err != nil {
		return Check{}, err
	}
	return CheckConfig(m.Ref(), postfixq.ParsePostconf(mainOut), ParseServices(f), ParseOverrides(p)), nil
}

// ParseServices parses postconf -F '*/*/command' into service -> command.
func ParseServices(b []byte) map[string]string {
	svc := make(map[string]string)
	for k, v := range postfixq.ParsePostconf(b) {
		if name, ok := strings.CutSuffix(k, "/command"); ok {
			svc[name] = v
		}
	}
	return svc
}

// ParseOverrides parses postconf -P output (service/type/param = value)
// into service -> param -> value.
func ParseOverrides(b []byte) map[string]map[string]string {
	out := make(map[string]map[string]string)
	for k, v := range postfixq.ParsePostconf(b) {
		i := strings.LastIndexByte(k, '/')
		if i < 0 {
			continue
		}
		svc, param := k[:i], k[i+1:]
		if out[svc] == nil {
			out[svc] = make(map[string]string)
		}
		out[svc][param] = v
	}
	return out
}

// CheckConfig decides, for each smtpd service, whether check_sasl_access
// mapRef is evaluated before the login is let through. mainCf holds the
// main.cf values, services the master.cf commands, overrides the -o values.
func CheckConfig(mapRef string, mainCf map[string]string, services map[string]string, overrides map[string]map[string]string) Check {
	c := Check{MapRef: mapRef}
	names := make([]string, 0, len(services))
	for name, cmd := range services {
		if f := strings.Fields(cmd); len(f) > 0 && filepath.Base(f[0]) == "smtpd" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		ov := overrides[name]
		value := func(param string) (string, bool) {
			if v, ok := ov[param]; ok {
				return v, true
			}
			return mainCf[param], false
		}
		sc := ServiceCheck{Service: name}
		auth, _ := value("smtpd_sasl_auth_enable")
		sc.AUTH = isYes(auth)
		if !sc.AUTH {
			c.Services = append(c.Services, sc)
			continue
		}
		var problems []string
		for _, list := range rcptLists {
			v, _ := value(list)
			ok, why, warns := evaluates(SplitRestrictions(v), mapRef)
			sc.Warnings = append(sc.Warnings, warns...)
			if ok {
				sc.Effective, sc.List = true, list
				break
			}
			problems = append(problems, list+": "+why)
		}
		if !sc.Effective {
			sc.Problem = strings.Join(problems, "; ")
			const fixList = "smtpd_recipient_restrictions"
			cur, overridden := value(fixList)
			newList := "check_sasl_access " + mapRef
			if rest := strings.Join(SplitRestrictions(cur), ", "); rest != "" {
				newList += ", " + rest
			}
			// master.cf form without white space (postconf -P and Postfix
			// before 3.0 take no "{ }"): lists split on commas too.
			sc.FixMaster = fmt.Sprintf("-o %s=%s", fixList, strings.Join(SplitRestrictions(newList), ","))
			if !overridden {
				sc.FixMain = fmt.Sprintf("%s = %s", fixList, newList)
			}
		}
		c.Services = append(c.Services, sc)
	}
	return c
}

func isYes(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	return v == "yes" || v == "true" || v == "1"
}

// SplitRestrictions splits a restriction list value into its elements,
// keeping "check_xxx TYPE:TABLE" pairs as separate elements.
func SplitRestrictions(v string) []string {
	return postfixq.SplitList(strings.NewReplacer("{", " ", "}", " ").Replace(v))
}

// evaluates walks a restriction list: the map is effective when
// check_sasl_access mapRef comes before anything that permits an
// authenticated client unconditionally.
func evaluates(elems []string, mapRef string) (bool, string, []string) {
	var warns []string
	for i := 0; i < len(elems); i++ {
		e := strings.ToLower(elems[i])
		switch {
		case e == "check_sasl_access":
			if i+1 < len(elems) && sameMap(elems[i+1], mapRef) {
				return true, "", warns
			}
			i++
		case e == "permit_sasl_authenticated" || e == "permit":
			return false, e + " comes before check_sasl_access " + mapRef, warns
		case e == "permit_mynetworks":
			warns = append(warns, "permit_mynetworks comes before the map: clients in mynetworks bypass it")
		case strings.HasPrefix(e, "check_") && i+1 < len(elems) && strings.Contains(elems[i+1], ":"):
			i++ // skip the table argument
		}
	}
	if len(elems) == 0 {
		return false, "empty", warns
	}
	return false, "check_sasl_access " + mapRef + " is not in it", warns
}

func sameMap(arg, mapRef string) bool {
	arg = strings.TrimPrefix(arg, "proxy:")
	return arg == mapRef
}

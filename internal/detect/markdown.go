package detect

import (
	"fmt"
	"strings"
)

// RulesMarkdown renders the rule table as Markdown, for the README and
// `saslguard rules --markdown`.
func RulesMarkdown() string {
	d := DefaultConfig()
	var b strings.Builder
	fmt.Fprintf(&b, "Each login's window (24 hours of event time by default) is read by these rules\n")
	fmt.Fprintf(&b, "(`saslguard rules` prints them; thresholds are keys of `[detect]`, shown with\n")
	fmt.Fprintf(&b, "their defaults by `saslguard config example`). A login is `suspicious` from\n")
	fmt.Fprintf(&b, "score %d (`suspicious_score`) when a sending or notable rule fires, and\n", d.SuspiciousScore)
	fmt.Fprintf(&b, "`compromised` from score %d (`compromised_score`) when a sending rule fires.\n", d.CompromisedScore)
	fmt.Fprintf(&b, "Of the rules of one group only the one with the most points counts.\n\n")
	b.WriteString("| rule | kind | points | fires on | thresholds (default) |\n|---|---|---|---|---|\n")
	def := DefaultThresholds()
	for _, r := range rules {
		kind := r.Kind.String()
		if r.Group != "" {
			kind += ", group " + r.Group
		}
		points := r.Points
		if points == "" {
			points = "-"
		}
		var th []string
		for _, k := range r.Reads {
			for _, ti := range thresholds {
				if ti.Key == k {
					th = append(th, fmt.Sprintf("`%s` (%d)", k, ti.Get(&def)))
				}
			}
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", r.Name, kind, points, r.Doc, strings.Join(th, ", "))
	}
	return b.String()
}

// RulesText renders the rule table for a terminal: each rule with its
// kind, points, what it detects and the thresholds it reads, with their
// values in t.
func RulesText(t Thresholds) string {
	var b strings.Builder
	for _, r := range rules {
		fmt.Fprintf(&b, "%s (%s", r.Name, r.Kind)
		if r.Group != "" {
			fmt.Fprintf(&b, ", group %s", r.Group)
		}
		if r.Points != "" {
			fmt.Fprintf(&b, "; points %s", r.Points)
		}
		fmt.Fprintf(&b, ")\n    %s\n", r.Doc)
		if len(r.Reads) > 0 {
			var th []string
			for _, k := range r.Reads {
				for _, ti := range thresholds {
					if ti.Key == k {
						th = append(th, fmt.Sprintf("%s = %d", k, ti.Get(&t)))
					}
				}
			}
			fmt.Fprintf(&b, "    reads: %s\n", strings.Join(th, ", "))
		}
	}
	return b.String()
}

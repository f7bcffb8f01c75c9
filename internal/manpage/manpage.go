// Package manpage writes Unix manual pages (roff, man macros) from a cobra
// command tree, so that the pages say what the commands' help says: one
// page per command (saslguard.1, saslguard-scan.1, ...), plus free-form
// pages such as a configuration file's.
package manpage

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Header is what every page's .TH line carries.
type Header struct {
	Date    string // e.g. "2026-12-08"
	Source  string // e.g. "saslguard 1.0.0"
	Manual  string // e.g. "saslguard manual"
	SeeAlso []string
}

// PageName is the file name stem of cmd's page: its command path joined
// with hyphens ("saslguard-config-check").
func PageName(cmd *cobra.Command) string {
	return strings.ReplaceAll(cmd.CommandPath(), " ", "-")
}

// Documented reports whether cmd gets a page: hidden commands and help do not.
func Documented(cmd *cobra.Command) bool {
	return cmd.IsAvailableCommand() || cmd.HasAvailableSubCommands() && !cmd.Hidden
}

// WriteTree writes a section 1 page for root and each documented command
// below it into dir, and returns the file names written.
func WriteTree(root *cobra.Command, dir string, h Header) ([]string, error) {
	var names []string
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		if c != root && !Documented(c) {
			return nil
		}
		var b bytes.Buffer
		if err := Command(&b, c, h); err != nil {
			return err
		}
		name := PageName(c) + ".1"
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return err
		}
		names = append(names, name)
		for _, sub := range c.Commands() {
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	return names, walk(root)
}

// Command writes cmd's page.
func Command(w io.Writer, cmd *cobra.Command, h Header) error {
	var b strings.Builder
	name := PageName(cmd)
	th(&b, strings.ToUpper(name), "1", h)
	b.WriteString(".SH NAME\n")
	fmt.Fprintf(&b, "%s \\- %s\n", Escape(name), Escape(cmd.Short))
	b.WriteString(".SH SYNOPSIS\n")
	fmt.Fprintf(&b, ".B %s\n", Escape(cmd.CommandPath()))
	if use := strings.TrimSpace(strings.TrimPrefix(cmd.Use, cmd.Name())); use != "" || cmd.HasAvailableFlags() {
		args := use
		if cmd.HasAvailableSubCommands() && !cmd.Runnable() {
			args = "COMMAND"
		}
		if cmd.HasAvailableFlags() {
			args = strings.TrimSpace("[OPTIONS] " + args)
		}
		fmt.Fprintf(&b, "%s\n", Escape(args))
	}
	b.WriteString(".SH DESCRIPTION\n")
	desc := cmd.Long
	if desc == "" {
		desc = cmd.Short
	}
	Text(&b, desc)
	if subs := documentedSubs(cmd); len(subs) > 0 {
		b.WriteString(".SH COMMANDS\n")
		for _, s := range subs {
			fmt.Fprintf(&b, ".TP\n.BR %s (1)\n%s\n", Escape(PageName(s)), Escape(s.Short))
		}
	}
	if fs := cmd.NonInheritedFlags(); fs.HasAvailableFlags() {
		b.WriteString(".SH OPTIONS\n")
		flags(&b, fs)
	}
	if fs := cmd.InheritedFlags(); fs.HasAvailableFlags() {
		b.WriteString(".SH GLOBAL OPTIONS\n")
		flags(&b, fs)
	}
	if cmd.Example != "" {
		b.WriteString(".SH EXAMPLES\n")
		Text(&b, cmd.Example)
	}
	var see []string
	if cmd.HasParent() {
		see = append(see, PageName(cmd.Parent())+"(1)")
	}
	for _, s := range documentedSubs(cmd) {
		see = append(see, PageName(s)+"(1)")
	}
	see = append(see, h.SeeAlso...)
	if len(see) > 0 {
		b.WriteString(".SH SEE ALSO\n")
		for i, s := range see {
			page, sect, _ := strings.Cut(strings.TrimSuffix(s, ")"), "(")
			sep := ","
			if i == len(see)-1 {
				sep = ""
			}
			fmt.Fprintf(&b, ".BR %s (%s)%s\n", Escape(page), Escape(sect), sep)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func documentedSubs(cmd *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, s := range cmd.Commands() {
		if Documented(s) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

func th(b *strings.Builder, title, section string, h Header) {
	// the date stays unescaped: man readers parse it (YYYY-MM-DD)
	fmt.Fprintf(b, ".TH %s %s \"%s\" %s %s\n", quote(title), section, strings.Map(func(r rune) rune {
		if r == '-' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, h.Date), quote(h.Source), quote(h.Manual))
	b.WriteString(".nh\n.ad l\n")
}

// Page writes a free-form page: title and section, a NAME line, then
// sections of text in the form Text takes.
func Page(w io.Writer, name, section, short string, h Header, sections [][2]string) error {
	var b strings.Builder
	th(&b, strings.ToUpper(name), section, h)
	b.WriteString(".SH NAME\n")
	fmt.Fprintf(&b, "%s \\- %s\n", Escape(name), Escape(short))
	for _, s := range sections {
		fmt.Fprintf(&b, ".SH %s\n", Escape(strings.ToUpper(s[0])))
		Text(&b, s[1])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func flags(b *strings.Builder, fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		b.WriteString(".TP\n")
		if f.Shorthand != "" && f.ShorthandDeprecated == "" {
			fmt.Fprintf(b, "\\fB\\-%s\\fR, ", Escape(f.Shorthand))
		}
		fmt.Fprintf(b, "\\fB\\-\\-%s\\fR", Escape(f.Name))
		varname, usage := pflag.UnquoteUsage(f)
		if varname != "" && f.NoOptDefVal == "" {
			fmt.Fprintf(b, " \\fI%s\\fR", Escape(varname))
		}
		b.WriteString("\n")
		b.WriteString(escapeLine(usage))
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "[]" && !strings.Contains(usage, "(default") {
			fmt.Fprintf(b, " (default %s)", Escape(d))
		}
		b.WriteString("\n")
	})
}

// Text turns help text into roff: a blank line starts a paragraph, lines
// indented by a space or more are kept as they are (examples, tables),
// other lines are filled.
func Text(b *strings.Builder, s string) {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	inPre := false
	for i, l := range lines {
		pre := strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")
		switch {
		case strings.TrimSpace(l) == "":
			if inPre {
				b.WriteString(".fi\n.RE\n")
				inPre = false
			}
			if i > 0 && i < len(lines)-1 {
				b.WriteString(".PP\n")
			}
			continue
		case pre && !inPre:
			b.WriteString(".RS 2\n.nf\n")
			inPre = true
		case !pre && inPre:
			b.WriteString(".fi\n.RE\n")
			inPre = false
		}
		if pre {
			l = strings.TrimPrefix(strings.TrimPrefix(l, "  "), "\t")
		}
		b.WriteString(escapeLine(l))
		b.WriteString("\n")
	}
	if inPre {
		b.WriteString(".fi\n.RE\n")
	}
}

// Escape makes s safe as roff text inside a line: backslashes are printed
// as such and hyphens as ASCII hyphen-minus (so options copy and paste).
func Escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString("\\e")
		case '-':
			b.WriteString("\\-")
		case '\'':
			b.WriteString("\\(aq")
		case '"':
			b.WriteString("\\(dq")
		case '`':
			b.WriteString("\\(ga")
		case '^':
			b.WriteString("\\(ha")
		case '~':
			b.WriteString("\\(ti")
		default:
			if r < 0x20 || r == 0x7f {
				continue // control characters have no place in a page
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// escapeLine is Escape for a whole input line: a line starting with '.' or
// an apostrophe would be a request, so it starts with a zero-width \&.
func escapeLine(s string) string {
	e := Escape(s)
	if strings.HasPrefix(e, ".") || strings.HasPrefix(s, "'") {
		return "\\&" + e
	}
	if strings.TrimSpace(e) == "" {
		return "\\&"
	}
	return e
}

func quote(s string) string {
	return `"` + strings.ReplaceAll(Escape(s), `"`, `\(dq`) + `"`
}

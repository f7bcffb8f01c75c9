package manpage

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		`a-b`:           `a\-b`,
		`C:\path`:       `C:\epath`,
		"tab\there\x1b": "tabhere",
		`it's "q"`:      `it\(aqs \(dqq\(dq`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		".SH injected": `\&.SH injected`,
		"'br":          `\&\(aqbr`,
		"plain":        "plain",
	} {
		if got := escapeLine(in); got != want {
			t.Errorf("escapeLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTextKeepsIndentedBlocks(t *testing.T) {
	var b strings.Builder
	Text(&b, "First paragraph\ncontinues.\n\n  example --one\n  .two\nafter\n")
	want := "First paragraph\ncontinues.\n.PP\n.RS 2\n.nf\nexample \\-\\-one\n\\&.two\n.fi\n.RE\nafter\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestCommandPage(t *testing.T) {
	root := &cobra.Command{Use: "tool", Short: "A tool"}
	sub := &cobra.Command{Use: "run [FILE]...", Short: "Run it", Long: "run runs.\n\n.TH not a request", Example: "  tool run x",
		RunE: func(*cobra.Command, []string) error { return nil }}
	sub.Flags().StringP("config", "c", "/etc/tool.toml", "configuration `file`")
	sub.Flags().Bool("secret", false, "hidden")
	_ = sub.Flags().MarkHidden("secret")
	root.AddCommand(sub)
	var b bytes.Buffer
	if err := Command(&b, sub, Header{Date: "2026-12-08", Source: "tool 1.0", Manual: "tool manual"}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, s := range []string{
		`.TH "TOOL\-RUN" 1 "2026-12-08" "tool 1.0" "tool manual"`,
		"tool\\-run \\- Run it\n",
		".B tool run\n[OPTIONS] [FILE]...\n",
		`\fB\-c\fR, \fB\-\-config\fR \fIfile\fR` + "\nconfiguration file (default /etc/tool.toml)\n",
		"\\&.TH not a request\n",
		".SH EXAMPLES\n.RS 2\n.nf\ntool run x\n",
		".BR tool (1)\n",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q:\n%s", s, page)
		}
	}
	if strings.Contains(page, "secret") {
		t.Error("a hidden flag is documented")
	}
	if groff, err := exec.LookPath("groff"); err == nil {
		cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
		cmd.Stdin = &b
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff: %v %s", err, out)
		}
	}
}

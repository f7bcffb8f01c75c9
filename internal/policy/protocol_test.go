package policy

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const postfixRCPT = `request=smtpd_access_policy
protocol_state=RCPT
protocol_name=ESMTP
client_address=127.0.0.66
client_name=unknown
reverse_client_name=unknown
instance=1a2b.6565a4e2.4c1d0.0
sasl_method=PLAIN
sasl_username=alice@lab.test
sasl_sender=
sender=alice@lab.test
recipient=user1@example.org
recipient_count=0
queue_id=8A1A2B830F
size=0
ccert_subject=
encryption_protocol=TLSv1.3
policy_context=
server_address=127.0.0.1
server_port=587

`

func TestReadRequest(t *testing.T) {
	lim := Limits{MaxLine: 64, MaxAttrs: 5, MaxBytes: 200}
	tests := []struct {
		name    string
		in      string
		lim     Limits
		want    *Request
		wantErr error
	}{
		{
			name: "postfix rcpt",
			in:   postfixRCPT,
			lim:  DefaultLimits,
			want: &Request{
				Request: "smtpd_access_policy", ProtocolState: "RCPT", ProtocolName: "ESMTP",
				ClientAddress: "127.0.0.66", ClientName: "unknown", SASLMethod: "PLAIN",
				SASLUsername: "alice@lab.test", Sender: "alice@lab.test", Recipient: "user1@example.org",
				RecipientCount: 0, Size: "0", QueueID: "8A1A2B830F", Instance: "1a2b.6565a4e2.4c1d0.0",
			},
		},
		{name: "crlf and repeated attribute", in: "sasl_username=a\r\nsasl_username=b\r\n\r\n", lim: lim,
			want: &Request{SASLUsername: "b", RecipientCount: -1}},
		{name: "value with equals", in: "sender=a=b@x\n\n", lim: lim, want: &Request{Sender: "a=b@x", RecipientCount: -1}},
		{name: "leading empty lines", in: "\n\nrecipient_count=3\n\n", lim: lim, want: &Request{RecipientCount: 3}},
		{name: "bad count", in: "recipient_count=-1\n\n", lim: lim, want: &Request{RecipientCount: -1}},
		{name: "huge count", in: "recipient_count=99999999999999\n\n", lim: lim, want: &Request{RecipientCount: -1}},
		{name: "no equals", in: "garbage\n\n", lim: lim, wantErr: errNoEquals},
		{name: "empty name", in: "=x\n\n", lim: lim, wantErr: errEmptyName},
		{name: "nul", in: "a=\x00\n\n", lim: lim, wantErr: errNUL},
		{name: "line too long", in: "sender=" + strings.Repeat("x", 100) + "\n\n", lim: lim, wantErr: errLineLong},
		{name: "line too long without newline", in: strings.Repeat("x", 100), lim: lim, wantErr: errLineLong},
		{name: "too many attributes", in: strings.Repeat("a=b\n", 6) + "\n", lim: lim, wantErr: errTooMany},
		{name: "too large", in: strings.Repeat("a="+strings.Repeat("b", 60)+"\n", 4) + "\n", lim: lim, wantErr: errTooBig},
		{name: "endless empty lines", in: strings.Repeat("\n", 300), lim: lim, wantErr: errTooBig},
		{name: "truncated", in: "a=b\nc=d", lim: lim, wantErr: errTruncated},
		{name: "truncated after line", in: "a=b\n", lim: lim, wantErr: errTruncated},
		{name: "clean eof", in: "", lim: lim, wantErr: io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), tt.lim.MaxLine+2)
			got, err := ReadRequest(br, tt.lim)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v; want %v", err, tt.wantErr)
				}
				if tt.wantErr != io.EOF && !errors.Is(err, ErrMalformed) {
					t.Fatalf("err %v does not wrap ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadRequestSeveralOnOneStream(t *testing.T) {
	in := postfixRCPT + strings.Replace(postfixRCPT, "protocol_state=RCPT", "protocol_state=DATA", 1)
	br := bufio.NewReaderSize(strings.NewReader(in), DefaultLimits.MaxLine+2)
	var states []string
	for {
		r, err := ReadRequest(br, DefaultLimits)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, r.ProtocolState)
	}
	if diff := cmp.Diff([]string{"RCPT", "DATA"}, states); diff != "" {
		t.Fatal(diff)
	}
}

func TestAppendReply(t *testing.T) {
	tests := []struct {
		a    Action
		text string
		want string
	}{
		{Dunno, "ignored", "action=DUNNO\n\n"},
		{DeferIfPermit, "4.7.1 Slow down", "action=DEFER_IF_PERMIT 4.7.1 Slow down\n\n"},
		{Reject, "evil\r\n\r\naction=OK\n", "action=REJECT evil    action=OK\n\n"},
		{Hold, "", "action=HOLD\n\n"},
		{Reject, "ünï", "action=REJECT n\n\n"},
		{Reject, "\x00\x7f\x1b[31m", "action=REJECT [31m\n\n"},
		{Reject, strings.Repeat("x", 500), "action=REJECT " + strings.Repeat("x", maxReplyText) + "\n\n"},
	}
	for _, tt := range tests {
		got := string(AppendReply(nil, tt.a, tt.text))
		if got != tt.want {
			t.Errorf("AppendReply(%v, %q) = %q; want %q", tt.a, tt.text, got, tt.want)
		}
		if strings.Count(got, "\n") != 2 || strings.Contains(got, "\r") {
			t.Errorf("reply %q is not exactly one line and an empty line", got)
		}
	}
}

func TestParseAction(t *testing.T) {
	for _, s := range []string{"dunno", "DEFER_IF_PERMIT", "Hold", "REJECT"} {
		a, err := ParseAction(s)
		if err != nil || !strings.EqualFold(a.String(), s) {
			t.Errorf("ParseAction(%q) = %v, %v", s, a, err)
		}
	}
	for _, s := range []string{"", "OK", "PERMIT", "REJECT x"} {
		if _, err := ParseAction(s); err == nil {
			t.Errorf("ParseAction(%q) accepted", s)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(postfixRCPT))
	f.Add([]byte("recipient_count=12\r\n\r\n"))
	f.Add([]byte("\n\na=b\n\n"))
	f.Add([]byte("sasl_username=x\x00\n\n"))
	f.Add([]byte("=\n\n"))
	lim := Limits{MaxLine: 512, MaxAttrs: 20, MaxBytes: 2048}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ParseRequest(data, lim)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		enc := req.AppendEncode(nil)
		if len(enc) == 1 {
			return // only attributes saslguard drops
		}
		again, err := ParseRequest(enc, DefaultLimits)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", enc, err)
		}
		if diff := cmp.Diff(req, again); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
		reply := AppendReply(nil, Reject, req.SASLUsername+req.Sender)
		if strings.Count(string(reply), "\n") != 2 || strings.ContainsAny(string(reply[:len(reply)-2]), "\r\n") {
			t.Fatalf("reply %q echoes a line break", reply)
		}
	})
}

package policy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Limits bound what one request may cost.
type Limits struct {
	MaxLine  int // bytes in one name=value line, newline excluded
	MaxAttrs int // attribute lines in one request
	MaxBytes int // bytes in one request, newlines included
}

// DefaultLimits are generous for Postfix (its requests are well under
// 2 KiB) and small enough that a hostile client costs little.
var DefaultLimits = Limits{MaxLine: 4096, MaxAttrs: 100, MaxBytes: 16384}

// Parse errors. ErrMalformed wraps every error that is the client's fault.
var (
	ErrMalformed = errors.New("malformed policy request")
	errLineLong  = fmt.Errorf("%w: line too long", ErrMalformed)
	errTooMany   = fmt.Errorf("%w: too many attributes", ErrMalformed)
	errTooBig    = fmt.Errorf("%w: request too large", ErrMalformed)
	errNoEquals  = fmt.Errorf("%w: line without '='", ErrMalformed)
	errEmptyName = fmt.Errorf("%w: empty attribute name", ErrMalformed)
	errNUL       = fmt.Errorf("%w: NUL byte", ErrMalformed)
	errTruncated = fmt.Errorf("%w: connection closed inside a request", ErrMalformed)
)

// Request is one policy delegation request (SMTPD_POLICY_README). Only the
// attributes saslguard uses are kept; others are checked for shape and
// dropped. A repeated attribute keeps its last value.
type Request struct {
	Request        string // "smtpd_access_policy"
	ProtocolState  string // RCPT, DATA, END-OF-MESSAGE, ...
	ProtocolName   string
	ClientAddress  string
	ClientName     string
	SASLMethod     string
	SASLUsername   string
	SASLSender     string
	Sender         string
	Recipient      string
	RecipientCount int // -1 when absent or not a number
	Size           string
	QueueID        string
	Instance       string
}

// attrs lists the kept attributes in the order Encode writes them.
var attrNames = [14]string{
	"request", "protocol_state", "protocol_name", "client_address", "client_name",
	"sasl_method", "sasl_username", "sasl_sender", "sender", "recipient",
	"recipient_count", "size", "queue_id", "instance",
}

// attrIndex returns the index in attrNames of a kept attribute, or -1.
func attrIndex(name []byte) int {
	// A switch on string(name) does not allocate.
	switch string(name) {
	case "request":
		return 0
	case "protocol_state":
		return 1
	case "protocol_name":
		return 2
	case "client_address":
		return 3
	case "client_name":
		return 4
	case "sasl_method":
		return 5
	case "sasl_username":
		return 6
	case "sasl_sender":
		return 7
	case "sender":
		return 8
	case "recipient":
		return 9
	case "recipient_count":
		return 10
	case "size":
		return 11
	case "queue_id":
		return 12
	case "instance":
		return 13
	}
	return -1
}

func (r *Request) field(i int) *string {
	switch i {
	case 0:
		return &r.Request
	case 1:
		return &r.ProtocolState
	case 2:
		return &r.ProtocolName
	case 3:
		return &r.ClientAddress
	case 4:
		return &r.ClientName
	case 5:
		return &r.SASLMethod
	case 6:
		return &r.SASLUsername
	case 7:
		return &r.SASLSender
	case 8:
		return &r.Sender
	case 9:
		return &r.Recipient
	case 11:
		return &r.Size
	case 12:
		return &r.QueueID
	case 13:
		return &r.Instance
	}
	return nil
}

// parseCount reads a non-negative decimal; anything else is -1.
func parseCount(b []byte) int {
	if len(b) == 0 || len(b) > 9 {
		return -1
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// ReadRequest reads one request, up to and including its empty line, from
// br. It returns io.EOF if the connection ended cleanly between requests.
// Any error other than io.EOF leaves the stream at an unknown position: the
// caller answers safely and closes the connection.
func ReadRequest(br *bufio.Reader, lim Limits) (*Request, error) {
	var p parser
	return p.read(br, lim)
}

// parser keeps scratch space between requests of one connection: the
// values of kept attributes are gathered in one buffer and become one
// string, so a request costs two allocations, not one per attribute.
type parser struct {
	buf  []byte
	span [14]struct{ start, end int32 }
}

func (p *parser) read(br *bufio.Reader, lim Limits) (*Request, error) {
	req := &Request{RecipientCount: -1}
	p.buf = p.buf[:0]
	for i := range p.span {
		p.span[i].start, p.span[i].end = -1, -1
	}
	attrs, total := 0, 0
	for {
		line, err := readLine(br, lim.MaxLine)
		if err != nil {
			if errors.Is(err, io.EOF) {
				if attrs == 0 && len(line) == 0 {
					return nil, io.EOF
				}
				return nil, errTruncated
			}
			return nil, err
		}
		total += len(line) + 1
		if total > lim.MaxBytes {
			return nil, errTooBig
		}
		if len(line) == 0 {
			if attrs == 0 {
				// Stray empty line between requests: tolerate, as Postfix
				// never sends one, but do not let it loop for free.
				continue
			}
			break
		}
		attrs++
		if attrs > lim.MaxAttrs {
			return nil, errTooMany
		}
		if bytes.IndexByte(line, 0) >= 0 {
			return nil, errNUL
		}
		name, value, ok := bytes.Cut(line, []byte{'='})
		if !ok {
			return nil, errNoEquals
		}
		if len(name) == 0 {
			return nil, errEmptyName
		}
		i := attrIndex(name)
		if i < 0 {
			continue
		}
		if i == 10 {
			req.RecipientCount = parseCount(value)
			continue
		}
		// A repeated attribute keeps its last value.
		p.span[i].start = int32(len(p.buf))
		p.buf = append(p.buf, value...)
		p.span[i].end = int32(len(p.buf))
	}
	all := string(p.buf)
	for i, sp := range p.span {
		if sp.start >= 0 {
			if f := req.field(i); f != nil {
				*f = all[sp.start:sp.end]
			}
		}
	}
	return req, nil
}

// readLine returns one line without its "\n" (nor any "\r" before it). The
// returned slice is only valid until the next read. br's buffer must hold
// at least max+2 bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, errLineLong
	}
	if err == nil {
		line = line[:len(line)-1]
	}
	for n := len(line); n > 0 && line[n-1] == '\r'; n-- {
		line = line[:n-1]
	}
	if len(line) > max {
		return nil, errLineLong
	}
	return line, err
}

// ParseRequest parses one request from b, which must hold exactly one
// request and its terminating empty line.
func ParseRequest(b []byte, lim Limits) (*Request, error) {
	br := bufio.NewReaderSize(bytes.NewReader(b), lim.MaxLine+2)
	req, err := ReadRequest(br, lim)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errTruncated
		}
		return nil, err
	}
	if _, err := br.Peek(1); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the request", ErrMalformed)
	}
	return req, nil
}

// AppendEncode appends the request in wire form, ending with the empty line.
// Empty attributes are left out, as is a negative recipient count.
func (r *Request) AppendEncode(b []byte) []byte {
	vals := []string{
		r.Request, r.ProtocolState, r.ProtocolName, r.ClientAddress, r.ClientName,
		r.SASLMethod, r.SASLUsername, r.SASLSender, r.Sender, r.Recipient,
		"", r.Size, r.QueueID, r.Instance,
	}
	if r.RecipientCount >= 0 {
		vals[10] = strconv.Itoa(r.RecipientCount)
	}
	for i, v := range vals {
		if v == "" {
			continue
		}
		b = append(b, attrNames[i]...)
		b = append(b, '=')
		b = append(b, v...)
		b = append(b, '\n')
	}
	return append(b, '\n')
}

package corpus

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

var bom = []byte("\xEF\xBB\xBF")

// lineReader reads lines of any length, keeping at most a little more than
// max bytes of one line in memory.
type lineReader struct {
	br   *bufio.Reader
	keep int    // bytes of a line kept: max plus room for "\r\n"
	buf  []byte // the current line
	n    int    // lines read
	bom  int    // length of the BOM stripped from line 1
}

func newLineReader(r io.Reader, max int) *lineReader {
	keep := max + 2
	if max > math.MaxInt-2 {
		keep = math.MaxInt
	}
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10), keep: keep}
}

// next returns the next line without its line ending (LF or CRLF) and its
// length in bytes. If the length exceeds max, line holds only a prefix. The
// line is valid until the next call. At the end it returns io.EOF; on a read
// error it drops the incomplete line and returns the error.
func (lr *lineReader) next() (line []byte, size int, err error) {
	lr.buf = lr.buf[:0]
	var chunk []byte
	var prev byte // last byte of the chunk before, to find a CR split from its LF
	for {
		if len(chunk) > 0 {
			prev = chunk[len(chunk)-1]
		}
		chunk, err = lr.br.ReadSlice('\n')
		size += len(chunk)
		if room := lr.keep - len(lr.buf); room > 0 {
			lr.buf = append(lr.buf, chunk[:min(room, len(chunk))]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && size > 0 {
			break // last line has no newline
		}
		if err != nil {
			return nil, 0, err
		}
		break
	}
	lr.n++
	if n := len(chunk); n > 0 && chunk[n-1] == '\n' {
		size--
		if n > 1 && chunk[n-2] == '\r' || n == 1 && prev == '\r' {
			size--
		}
	}
	line = lr.buf[:min(size, len(lr.buf))]
	if lr.n == 1 && bytes.HasPrefix(line, bom) {
		line = line[len(bom):]
		size -= len(bom)
		lr.bom = len(bom)
	}
	return line, size, nil
}

// shift is how many bytes were stripped from the start of line n (a BOM),
// to report offsets in the raw line.
func (lr *lineReader) shift(n int) int {
	if n == 1 {
		return lr.bom
	}
	return 0
}

func isBlank(b []byte) bool { return len(bytes.TrimSpace(b)) == 0 }

// readJSONL reads one JSON object per line. It reports whether the object
// had any non-blank line.
func readJSONL(r io.Reader, uri string, opt Options, emit func(Doc) error, reject func(Reject)) (seen bool, err error) {
	lr := newLineReader(r, opt.MaxDocBytes)
	for {
		line, size, err := lr.next()
		if err == io.EOF {
			return seen, nil
		}
		if err != nil {
			return seen, err
		}
		whole := size == len(line)
		if whole && isBlank(line) {
			continue
		}
		seen = true
		if size > opt.MaxDocBytes {
			reject(Reject{Object: uri, Line: lr.n, Reason: tooLargeReason(size, opt.MaxDocBytes)})
			continue
		}
		if off := invalidUTF8(line); off >= 0 {
			reject(Reject{Object: uri, Line: lr.n, Reason: invalidUTF8Reason(lr.shift(lr.n) + off)})
			continue
		}
		d, reason := parseJSONLine(line, opt)
		if reason != "" {
			reject(Reject{Object: uri, Line: lr.n, Reason: reason})
			continue
		}
		if d.ID == "" {
			d.ID = fmt.Sprintf("%s#L%d", uri, lr.n)
		}
		d.Source, d.Line = uri, lr.n
		if err := emit(d); err != nil {
			return seen, err
		}
	}
}

// parseJSONLine returns the document of one line, or why there is none. The
// ID is "" when the line has none.
func parseJSONLine(line []byte, opt Options) (Doc, string) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		if _, ok := err.(*json.UnmarshalTypeError); ok {
			return Doc{}, "not a JSON object"
		}
		return Doc{}, "invalid JSON: " + err.Error()
	}
	if m == nil {
		return Doc{}, "not a JSON object" // the line is null
	}
	raw, ok := m[opt.TextField]
	if !ok {
		return Doc{}, fmt.Sprintf("missing text field %q", opt.TextField)
	}
	if k := kind(raw); k != "string" {
		return Doc{}, fmt.Sprintf("text field %q is %s, not a string", opt.TextField, k)
	}
	var d Doc
	if err := json.Unmarshal(raw, &d.Text); err != nil {
		return Doc{}, "invalid JSON: " + err.Error()
	}
	if strings.TrimSpace(d.Text) == "" {
		return Doc{}, "empty document"
	}
	if raw, ok := m[opt.IDField]; ok {
		switch k := kind(raw); k {
		case "string":
			if err := json.Unmarshal(raw, &d.ID); err != nil {
				return Doc{}, "invalid JSON: " + err.Error()
			}
		case "number":
			d.ID = string(raw) // as written, so 12 stays "12", not "12.0"
		case "null":
		default:
			return Doc{}, fmt.Sprintf("id field %q is %s, not a string or number", opt.IDField, k)
		}
	}
	return d, ""
}

// kind names the JSON type of a valid value.
func kind(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// readText reads a whole object as one document, with CRLF turned into LF.
// It reports whether the object had any bytes.
func readText(r io.Reader, uri string, opt Options, emit func(Doc) error, reject func(Reject)) (seen bool, err error) {
	limit := int64(opt.MaxDocBytes) + int64(len(bom)) + 1
	data, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil {
		return len(data) > 0, err
	}
	if int64(len(data)) == limit {
		// Read to the end, for the size and to catch a corrupt stream.
		n, err := io.Copy(io.Discard, r)
		if err != nil {
			return true, err
		}
		size := int(min(int64(len(data))+n, math.MaxInt))
		if bytes.HasPrefix(data, bom) {
			size -= len(bom)
		}
		if size > opt.MaxDocBytes {
			reject(Reject{Object: uri, Reason: tooLargeReason(size, opt.MaxDocBytes)})
			return true, nil
		}
	}
	if len(data) == 0 {
		return false, nil
	}
	skip := 0
	if bytes.HasPrefix(data, bom) {
		skip = len(bom)
	}
	if off := invalidUTF8(data[skip:]); off >= 0 {
		reject(Reject{Object: uri, Reason: invalidUTF8Reason(skip + off)})
		return true, nil
	}
	text := string(data[skip:])
	if strings.Contains(text, "\r\n") {
		text = strings.ReplaceAll(text, "\r\n", "\n")
	}
	if strings.TrimSpace(text) == "" {
		reject(Reject{Object: uri, Reason: "empty document"})
		return true, nil
	}
	return true, emit(Doc{ID: uri, Text: text, Source: uri})
}

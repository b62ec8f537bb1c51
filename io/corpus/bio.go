package corpus

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// The column order is guessed from up to detectLines non-blank lines or
// detectBytes bytes, which are held until it is known.
const (
	detectLines = 200
	detectBytes = 1 << 20
)

// ReadBIO reads BIO (IOB2) token files, one "token<TAB>tag" or
// "tag<TAB>token" per line (columns may also be separated by spaces; with
// more than two, the token and tag are the outermost ones), a blank line
// between sentences. Each group of opt.SentencesPerDoc sentences is one
// document: its tokens joined by single spaces, with Gold spans from the
// tags, and ID "<source>#S<n>" where n counts sentences from 1. Line is the
// line of its first token. "-DOCSTART-" lines are skipped.
//
// With opt.BIOOrder "auto" the tag column is the one that looks more like
// tags (O, B-x, I-x) over the first 200 non-blank lines; token-tag on a tie.
// As in conlleval, an I- tag that does not continue a span of its type
// starts a new span.
//
// Unlike Read, which rejects a malformed document and goes on, ReadBIO
// returns an error at the first malformed line, so that gold data is never
// silently lost.
func ReadBIO(r io.Reader, source string, opt Options, emit func(Doc) error) error {
	opt, err := opt.withDefaults()
	if err != nil {
		return fmt.Errorf("read %s: %w", source, err)
	}
	var badErr error
	bad := func(line int, reason string) error {
		badErr = fmt.Errorf("read %s: line %d: %s", source, line, reason)
		return badErr
	}
	mark := func(d Doc) error {
		if err := emit(d); err != nil {
			return emitError{err}
		}
		return nil
	}
	_, err = readBIO(r, source, opt, mark, bad)
	var ee emitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return ee.err
	case err == badErr:
		return err
	}
	return fmt.Errorf("read %s: %w", source, err)
}

// readBIO parses a BIO stream, calling bad for each malformed document (and
// stopping if it returns an error). It reports whether the stream had any
// non-blank line.
func readBIO(r io.Reader, uri string, opt Options, emit func(Doc) error, bad func(line int, reason string) error) (seen bool, err error) {
	lr := newLineReader(r, opt.MaxDocBytes)
	p := &bioParser{uri: uri, opt: opt, order: opt.BIOOrder, emit: emit, bad: bad}

	// Guess the order from the first lines, then replay them.
	type heldLine struct {
		line    []byte
		size, n int
	}
	var first []heldLine
	var readErr error
	if p.order == OrderAuto {
		var tagFirst, tagLast, lines, held int
		for lines < detectLines && held < detectBytes {
			line, size, err := lr.next()
			if err != nil {
				if err != io.EOF {
					readErr = err
				}
				break
			}
			if size != len(line) { // too long: only its size matters
				first = append(first, heldLine{nil, size, lr.n})
				continue
			}
			first = append(first, heldLine{bytes.Clone(line), size, lr.n})
			held += len(line)
			if isBlank(line) {
				continue
			}
			lines++
			if f := fields(string(line)); len(f) >= 2 {
				a, b := isTag(f[0]), isTag(f[len(f)-1])
				if a && !b {
					tagFirst++
				} else if b && !a {
					tagLast++
				}
			}
		}
		p.order = OrderTokenTag
		if tagFirst > tagLast {
			p.order = OrderTagToken
		}
	}
	for _, h := range first {
		if err := p.line(h.line, h.size, h.n, lr.shift(h.n)); err != nil {
			return p.seen, err
		}
	}
	if readErr != nil {
		return p.seen, readErr
	}
	for {
		line, size, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return p.seen, err // the document in progress may be cut short: drop it
		}
		if err := p.line(line, size, lr.n, lr.shift(lr.n)); err != nil {
			return p.seen, err
		}
	}
	if err := p.endSentence(); err != nil {
		return p.seen, err
	}
	return p.seen, p.flush()
}

// bioParser builds documents from BIO lines.
type bioParser struct {
	uri   string
	opt   Options
	order string
	emit  func(Doc) error
	bad   func(line int, reason string) error
	seen  bool

	sentences int  // sentences started so far
	inSent    bool // the current sentence has a token

	// The document being built.
	text      []byte
	runes     int
	gold      []Span
	open      bool // the last gold span can be extended by an I- tag
	docLine   int
	docSent   int
	nsent     int // complete sentences in the document
	badLine   int
	badReason string
}

// line handles one line; size is its full length, shift the bytes stripped
// from its start (a BOM), for offsets.
func (p *bioParser) line(line []byte, size, n, shift int) error {
	if size == len(line) && isBlank(line) {
		return p.endSentence()
	}
	p.seen = true
	var f []string
	if size == len(line) {
		f = fields(string(line))
		if len(f) > 0 && (f[0] == "-DOCSTART-" || f[len(f)-1] == "-DOCSTART-") {
			return nil
		}
	}
	if !p.inSent {
		p.inSent = true
		p.sentences++
		if p.nsent == 0 {
			p.docLine, p.docSent = n, p.sentences
		}
	}
	if size > p.opt.MaxDocBytes {
		p.fail(n, tooLargeReason(size, p.opt.MaxDocBytes))
		return nil
	}
	if off := invalidUTF8(line); off >= 0 {
		p.fail(n, invalidUTF8Reason(shift+off))
		return nil
	}
	if len(f) < 2 {
		p.fail(n, "expected token and tag columns")
		return nil
	}
	token, tag := f[0], f[len(f)-1]
	if p.order == OrderTagToken {
		token, tag = tag, token
	}
	if !isTag(tag) {
		p.fail(n, fmt.Sprintf("invalid tag %q", tag))
		return nil
	}
	p.add(token, tag, n)
	return nil
}

// fields splits a line on tabs if it has any, else on spaces, dropping
// empty fields.
func fields(line string) []string {
	if !strings.Contains(line, "\t") {
		return strings.Fields(line)
	}
	var f []string
	for _, s := range strings.Split(line, "\t") {
		if s = strings.TrimSpace(s); s != "" {
			f = append(f, s)
		}
	}
	return f
}

// isTag reports whether s is a BIO tag: O, B-type or I-type.
func isTag(s string) bool {
	return s == "O" || len(s) > 2 && (s[0] == 'B' || s[0] == 'I') && s[1] == '-'
}

// add appends a token. As in conlleval, an I- tag that does not continue a
// span of its type starts a new one.
func (p *bioParser) add(token, tag string, n int) {
	if p.badReason != "" {
		return // the document is rejected anyway
	}
	if len(p.text)+1+len(token) > p.opt.MaxDocBytes {
		p.fail(n, tooLargeReason(len(p.text)+1+len(token), p.opt.MaxDocBytes))
		return
	}
	if len(p.text) > 0 {
		p.text = append(p.text, ' ')
		p.runes++
	}
	start := p.runes
	p.text = append(p.text, token...)
	p.runes += utf8.RuneCountInString(token)

	switch label := tag[min(2, len(tag)):]; {
	case tag == "O":
		p.open = false
	case tag[0] == 'I' && p.open && p.gold[len(p.gold)-1].Label == label:
	default:
		p.gold = append(p.gold, Span{Start: start, Label: label})
		p.open = true
	}
	if p.open {
		p.gold[len(p.gold)-1].End = p.runes
	}
}

// fail marks the document bad, keeping the first reason.
func (p *bioParser) fail(n int, reason string) {
	if p.badReason == "" {
		p.badLine, p.badReason = n, reason
	}
}

func (p *bioParser) endSentence() error {
	if !p.inSent {
		return nil
	}
	p.inSent = false
	p.open = false // spans never cross sentences
	p.nsent++
	if p.nsent < p.opt.SentencesPerDoc {
		return nil
	}
	return p.flush()
}

// flush emits or rejects the document built so far.
func (p *bioParser) flush() error {
	if p.nsent == 0 {
		return nil
	}
	d := Doc{
		ID:     fmt.Sprintf("%s#S%d", p.uri, p.docSent),
		Text:   string(p.text),
		Source: p.uri,
		Line:   p.docLine,
		Gold:   p.gold,
	}
	line, reason := p.badLine, p.badReason
	p.text, p.runes, p.gold, p.open = p.text[:0], 0, nil, false
	p.nsent, p.badLine, p.badReason = 0, 0, ""
	if reason != "" {
		return p.bad(line, reason)
	}
	return p.emit(d)
}

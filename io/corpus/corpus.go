// Package corpus reads documents from objects in storage: JSONL (optionally
// gzip-compressed), plain text, Parquet and BIO/CoNLL token files.
//
// Read streams one object's documents in order. Bad input costs only itself:
// a bad record is passed to a reject callback with a short reason and
// reading continues; an object that cannot be decoded past some point (a
// truncated gzip stream, a corrupt Parquet page) yields every document
// before that point and then an error naming the object.
package corpus

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/zeroner/zeroner/io/blob"
)

// Doc is one document.
type Doc struct {
	ID     string // stable across runs; see Read
	Text   string
	Source string // URI of the object it came from
	Line   int    // 1-based line or record number in the object; 0 if not applicable
	Gold   []Span // gold entities, from BIO files
}

// Span is a labelled range of a document's text, in Unicode code points,
// half-open.
type Span struct {
	Start, End int
	Label      string
}

// Reject is input that was skipped. Line is the 1-based line or record
// number (for BIO, the malformed line), 0 for the whole object. A byte
// offset in Reason counts from the start of that line, or of the object.
type Reject struct {
	Object string
	Line   int
	Reason string
}

// Formats.
const (
	FormatJSONL   = "jsonl"
	FormatText    = "txt"
	FormatParquet = "parquet"
	FormatBIO     = "bio"
)

// BIO column orders.
const (
	OrderAuto     = "auto"
	OrderTokenTag = "token-tag" // CrossNER, CoNLL
	OrderTagToken = "tag-token" // MIT-Restaurant
)

// DefaultMaxDocBytes is the default cap on one document's size.
const DefaultMaxDocBytes = 64 << 20

// Options control how objects are read. The zero value detects everything.
type Options struct {
	// Format is "" or "auto" to detect it from the object's extension, or
	// one of "jsonl", "txt", "parquet", "bio".
	Format string `json:"format"`
	// IDField and TextField name the JSONL fields or Parquet columns that
	// hold a document's ID and text; defaults "id" and "text".
	IDField   string `json:"id_field"`
	TextField string `json:"text_field"`
	// BIOOrder is the column order of BIO files: "auto" (default),
	// "token-tag" or "tag-token".
	BIOOrder string `json:"bio_order"`
	// SentencesPerDoc groups consecutive BIO sentences into one document;
	// default 1.
	SentencesPerDoc int `json:"sentences_per_doc"`
	// MaxDocBytes caps one document (a JSONL line, a text object, a BIO
	// document); larger ones are rejected. Default DefaultMaxDocBytes.
	MaxDocBytes int `json:"max_doc_bytes"`
}

func (o Options) withDefaults() (Options, error) {
	if o.IDField == "" {
		o.IDField = "id"
	}
	if o.TextField == "" {
		o.TextField = "text"
	}
	switch o.BIOOrder {
	case "":
		o.BIOOrder = OrderAuto
	case OrderAuto, OrderTokenTag, OrderTagToken:
	default:
		return o, fmt.Errorf("invalid BIO order %q (want auto, token-tag or tag-token)", o.BIOOrder)
	}
	if o.SentencesPerDoc <= 0 {
		o.SentencesPerDoc = 1
	}
	if o.MaxDocBytes <= 0 {
		o.MaxDocBytes = DefaultMaxDocBytes
	}
	return o, nil
}

// FormatOf returns the format Read uses for uri: opt.Format if set, else one
// detected from the extension (a trailing .gz is ignored), else "".
//
//	.jsonl .json .ndjson  jsonl
//	.txt                  txt
//	.parquet              parquet
//	.bio .conll           bio
func FormatOf(uri string, opt Options) string {
	if f := strings.ToLower(opt.Format); f != "" && f != "auto" {
		return f
	}
	name := strings.TrimSuffix(strings.ToLower(path.Base(uri)), ".gz")
	switch path.Ext(name) {
	case ".jsonl", ".json", ".ndjson":
		return FormatJSONL
	case ".txt":
		return FormatText
	case ".parquet":
		return FormatParquet
	case ".bio", ".conll":
		return FormatBIO
	}
	return ""
}

func isGzip(uri string) bool { return strings.HasSuffix(strings.ToLower(uri), ".gz") }

// Read streams the documents of obj to emit, in order, and skipped input to
// reject (which may be nil). It stops at the first error from emit or ctx.
//
// IDs: the JSONL or Parquet id field if present (a string or a number),
// else "<URI>#L<line or row>"; for text objects the URI; for BIO
// "<URI>#S<first sentence, 1-based>".
//
// A record that cannot be used (not JSON, no text, not UTF-8, empty, too
// large, a malformed BIO line) is rejected and reading goes on; so is an
// object with no content or of an unknown format. An error is returned
// when the object cannot be read to its end (a storage error, a truncated
// or corrupt gzip stream or Parquet file), after every document before the
// damage has been emitted.
//
// Two limits of that: gzip checks its CRC only at the end of a stream, so
// flipped bits can decode to garbage (mostly rejected as invalid JSON)
// before the error; and Parquet is decoded and checked a row group at a
// time (Arrow v17 can silently drop the rest of a damaged column chunk), so
// one row group's documents are held in memory.
func Read(ctx context.Context, s blob.Store, obj blob.Object, opt Options, emit func(Doc) error, reject func(Reject)) error {
	uri := obj.URI
	opt, err := opt.withDefaults()
	if err != nil {
		return fmt.Errorf("read %s: %w", uri, err)
	}
	if reject == nil {
		reject = func(Reject) {}
	}
	emitCtx := func(d Doc) error {
		err := ctx.Err()
		if err == nil {
			err = emit(d)
		}
		if err != nil {
			return emitError{err}
		}
		return nil
	}
	rejectObj := func(reason string) { reject(Reject{Object: uri, Reason: reason}) }

	format := FormatOf(uri, opt)
	switch format {
	case FormatJSONL, FormatText, FormatBIO:
	case FormatParquet:
		if isGzip(uri) {
			rejectObj("unsupported format: gzip-compressed parquet")
			return nil
		}
		return readParquet(ctx, s, uri, opt, emitCtx, reject)
	case "":
		rejectObj(fmt.Sprintf("unknown format: extension %q", path.Ext(uri)))
		return nil
	default:
		return fmt.Errorf("read %s: unknown format %q", uri, format)
	}

	rc, err := s.Open(ctx, uri)
	if err != nil {
		return fmt.Errorf("read %s: %w", uri, err)
	}
	defer rc.Close()
	src := &countReader{ctx: ctx, r: rc}
	var r io.Reader = src
	gz := isGzip(uri)
	if gz {
		zr, err := gzip.NewReader(src)
		switch {
		case err == io.EOF && src.n == 0:
			rejectObj("empty object")
			return nil
		case err != nil:
			return fmt.Errorf("read %s: %w", uri, streamErr(err, src, gz))
		}
		defer zr.Close()
		r = zr
	}

	seen, err := readStream(r, uri, format, opt, emitCtx, reject)
	if err != nil {
		var ee emitError
		if errors.As(err, &ee) {
			return fmt.Errorf("read %s: %w", uri, ee.err)
		}
		return fmt.Errorf("read %s: %w", uri, streamErr(err, src, gz))
	}
	if !seen {
		rejectObj("empty object")
	}
	return nil
}

// readStream reads a decompressed stream of a line-based format; seen
// says whether it held anything.
func readStream(r io.Reader, uri, format string, opt Options, emit func(Doc) error, reject func(Reject)) (bool, error) {
	switch format {
	case FormatJSONL:
		return readJSONL(r, uri, opt, emit, reject)
	case FormatText:
		return readText(r, uri, opt, emit, reject)
	case FormatBIO:
		bad := func(line int, reason string) error {
			reject(Reject{Object: uri, Line: line, Reason: reason})
			return nil
		}
		return readBIO(r, uri, opt, emit, bad)
	}
	return false, fmt.Errorf("unknown format %q", format)
}

// emitError marks an error from emit or ctx, so that it is passed on as is
// rather than taken for a decoding error.
type emitError struct{ err error }

func (e emitError) Error() string { return e.err.Error() }
func (e emitError) Unwrap() error { return e.err }

// streamErr names a decoding error: one that did not come from storage
// itself, read through a gzip stream, is the stream's fault.
func streamErr(err error, src *countReader, gz bool) error {
	if !gz || (src.err != nil && errors.Is(err, src.err)) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		return fmt.Errorf("truncated gzip stream: %w", err)
	}
	return fmt.Errorf("corrupt gzip stream: %w", err)
}

// countReader counts bytes and keeps the last non-EOF error of the raw
// object stream. It also stops on ctx, so that a long run of rejected
// lines can be cancelled too.
type countReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
	err error
}

func (c *countReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// invalidUTF8 returns the byte offset of the first invalid UTF-8 sequence in
// b, or -1.
func invalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

func invalidUTF8Reason(off int) string {
	return fmt.Sprintf("invalid UTF-8 at byte offset %d", off)
}

func tooLargeReason(size, max int) string {
	return fmt.Sprintf("document too large: %d bytes, limit %d", size, max)
}

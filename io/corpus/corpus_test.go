package corpus

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zeroner/zeroner/io/blob"
)

// store is an in-memory blob.Store holding objects by URI.
type store map[string][]byte

func (s store) List(context.Context, string) ([]blob.Object, error) {
	return nil, errors.New("not implemented")
}

func (s store) Open(_ context.Context, uri string) (io.ReadCloser, error) {
	b, ok := s[uri]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", uri, blob.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (s store) OpenAt(_ context.Context, uri string) (blob.ReaderAt, error) {
	b, ok := s[uri]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", uri, blob.ErrNotExist)
	}
	return readerAt{bytes.NewReader(b)}, nil
}

func (s store) Stat(_ context.Context, uri string) (blob.Object, error) {
	b, ok := s[uri]
	if !ok {
		return blob.Object{}, blob.ErrNotExist
	}
	return blob.Object{URI: uri, Size: int64(len(b))}, nil
}

func (s store) Create(context.Context, string, func(io.Writer) error) error {
	return errors.New("read only")
}

func (s store) Replace(context.Context, string, func(io.Writer) error) error {
	return errors.New("read only")
}

func (s store) Delete(context.Context, string) error { return errors.New("read only") }

type readerAt struct{ *bytes.Reader }

func (readerAt) Close() error { return nil }

// result is what Read gave for one object.
type result struct {
	docs    []Doc
	rejects []Reject
	err     error
}

func read(t testing.TB, uri string, data []byte, opt Options) result {
	t.Helper()
	var r result
	s := store{uri: data}
	r.err = Read(context.Background(), s, blob.Object{URI: uri, Size: int64(len(data))}, opt,
		func(d Doc) error { r.docs = append(r.docs, d); checkDoc(t, d); return nil },
		func(rj Reject) { r.rejects = append(r.rejects, rj) })
	return r
}

// checkDoc checks what every emitted document must satisfy.
func checkDoc(t testing.TB, d Doc) {
	t.Helper()
	if !utf8.ValidString(d.Text) || !utf8.ValidString(d.ID) {
		t.Fatalf("doc %q: invalid UTF-8", d.ID)
	}
	if strings.TrimSpace(d.Text) == "" {
		t.Fatalf("doc %q: empty text emitted", d.ID)
	}
	n, prev := utf8.RuneCountInString(d.Text), 0
	for _, s := range d.Gold {
		if s.Start < prev || s.End <= s.Start || s.End > n || s.Label == "" {
			t.Fatalf("doc %q: bad span %+v in text of %d code points", d.ID, s, n)
		}
		prev = s.End
	}
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ids(docs []Doc) []string {
	var out []string
	for _, d := range docs {
		out = append(out, d.ID)
	}
	return out
}

func texts(docs []Doc) []string {
	var out []string
	for _, d := range docs {
		out = append(out, d.Text)
	}
	return out
}

func TestFormatOf(t *testing.T) {
	tests := []struct {
		uri, format, want string
	}{
		{"gs://b/a.jsonl", "", "jsonl"},
		{"gs://b/a.JSONL.GZ", "", "jsonl"},
		{"gs://b/a.json.gz", "auto", "jsonl"},
		{"file:///d/a.ndjson", "", "jsonl"},
		{"/d/a.txt", "", "txt"},
		{"/d/a.txt.gz", "", "txt"},
		{"/d/a.parquet", "", "parquet"},
		{"/d/a.bio", "", "bio"},
		{"/d/a.conll", "", "bio"},
		{"/d/dev.txt", "bio", "bio"},
		{"/d/a.csv", "", ""},
		{"/d/README", "", ""},
		{"/d.jsonl/x", "", ""},
	}
	for _, tc := range tests {
		if got := FormatOf(tc.uri, Options{Format: tc.format}); got != tc.want {
			t.Errorf("FormatOf(%q, %q) = %q, want %q", tc.uri, tc.format, got, tc.want)
		}
	}
}

func TestReadJSONL(t *testing.T) {
	const uri = "gs://b/c.jsonl"
	tests := []struct {
		name     string
		data     string
		opt      Options
		wantIDs  []string
		wantText []string
		wantLine []int
		rejects  []Reject
	}{
		{
			name:     "ids from field or line",
			data:     `{"id":"a","text":"hello"}` + "\n" + `{"id":7,"text":"world"}` + "\n" + `{"text":"no id","id":null}` + "\n" + `{"id":"","text":"empty id"}`,
			wantIDs:  []string{"a", "7", uri + "#L3", uri + "#L4"},
			wantText: []string{"hello", "world", "no id", "empty id"},
			wantLine: []int{1, 2, 3, 4},
		},
		{
			name:     "BOM, CRLF and blank lines",
			data:     "\xEF\xBB\xBF{\"text\":\"x\"}\r\n\r\n   \n{\"text\":\"y\\r\\nz\"}\r\n",
			wantIDs:  []string{uri + "#L1", uri + "#L4"},
			wantText: []string{"x", "y\r\nz"},
			wantLine: []int{1, 4},
		},
		{
			name:     "custom fields",
			data:     `{"doc":12.50,"body":"b","text":5}`,
			opt:      Options{IDField: "doc", TextField: "body"},
			wantIDs:  []string{"12.50"},
			wantText: []string{"b"},
			wantLine: []int{1},
		},
		{
			name: "bad lines are rejected, good ones kept",
			data: strings.Join([]string{
				`{"text":"one"}`,
				`{"text":`,
				`not json`,
				`{"id":1}`,
				`{"text":42}`,
				`{"text":null}`,
				`{"text":"  \n "}`,
				`["text"]`,
				`null`,
				`{"text":"ab` + "\xff" + `c"}`,
				`{"text":"x","id":true}`,
				`{"text":"a"} {"text":"b"}`,
				`{"text":"two"}`,
			}, "\n"),
			wantIDs:  []string{uri + "#L1", uri + "#L13"},
			wantText: []string{"one", "two"},
			wantLine: []int{1, 13},
			rejects: []Reject{
				{uri, 2, "invalid JSON: unexpected end of JSON input"},
				{uri, 3, "invalid JSON: invalid character 'o' in literal null (expecting 'u')"},
				{uri, 4, `missing text field "text"`},
				{uri, 5, `text field "text" is number, not a string`},
				{uri, 6, `text field "text" is null, not a string`},
				{uri, 7, "empty document"},
				{uri, 8, "not a JSON object"},
				{uri, 9, "not a JSON object"},
				{uri, 10, "invalid UTF-8 at byte offset 11"},
				{uri, 11, `id field "id" is a boolean, not a string or number`},
				{uri, 12, "invalid JSON: invalid character '{' after top-level value"},
			},
		},
		{
			name:    "invalid UTF-8 after a BOM counts the BOM",
			data:    "\xEF\xBB\xBF{\"text\":\"\xc3\"}",
			rejects: []Reject{{uri, 1, "invalid UTF-8 at byte offset 12"}},
		},
		{
			name:     "document too large",
			data:     `{"text":"` + strings.Repeat("x", 100) + `"}` + "\r\n" + `{"text":"ok"}`,
			opt:      Options{MaxDocBytes: 50},
			wantIDs:  []string{uri + "#L2"},
			wantText: []string{"ok"},
			wantLine: []int{2},
			rejects:  []Reject{{uri, 1, "document too large: 111 bytes, limit 50"}},
		},
		{
			name:    "empty object",
			data:    "",
			rejects: []Reject{{uri, 0, "empty object"}},
		},
		{
			name:    "blank object",
			data:    "\n \r\n",
			rejects: []Reject{{uri, 0, "empty object"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := read(t, uri, []byte(tc.data), tc.opt)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if got := ids(r.docs); !reflect.DeepEqual(got, tc.wantIDs) {
				t.Errorf("ids = %q, want %q", got, tc.wantIDs)
			}
			if got := texts(r.docs); !reflect.DeepEqual(got, tc.wantText) {
				t.Errorf("texts = %q, want %q", got, tc.wantText)
			}
			for i, d := range r.docs {
				if d.Source != uri || i < len(tc.wantLine) && d.Line != tc.wantLine[i] {
					t.Errorf("doc %d: source %q line %d, want %q line %d", i, d.Source, d.Line, uri, tc.wantLine[i])
				}
			}
			if !reflect.DeepEqual(r.rejects, tc.rejects) {
				t.Errorf("rejects:\n got %+v\nwant %+v", r.rejects, tc.rejects)
			}
		})
	}
}

func TestReadLongLine(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB line")
	}
	long := strings.Repeat("é tok ", 50<<20/7)
	data := []byte(`{"text":"` + long + `"}` + "\n" + `{"text":"after"}` + "\n")
	r := read(t, "gs://b/long.jsonl", data, Options{})
	if r.err != nil || len(r.rejects) != 0 {
		t.Fatalf("err %v, rejects %v", r.err, r.rejects)
	}
	if len(r.docs) != 2 || r.docs[0].Text != long || r.docs[1].Text != "after" {
		t.Fatalf("got %d docs", len(r.docs))
	}
	r = read(t, "gs://b/long.jsonl", data, Options{MaxDocBytes: 1 << 20})
	if len(r.docs) != 1 || len(r.rejects) != 1 || !strings.HasPrefix(r.rejects[0].Reason, "document too large") {
		t.Fatalf("with a 1 MiB cap: docs %d, rejects %v", len(r.docs), r.rejects)
	}
}

// corpus returns n JSONL lines of random words, which compress poorly
// enough for a gzip stream to span several blocks.
func corpus(n int) ([]byte, []string) {
	rng := rand.New(rand.NewSource(1))
	var buf bytes.Buffer
	var want []string
	for i := 0; i < n; i++ {
		var words []string
		for j := 0; j < 20; j++ {
			w := make([]byte, 3+rng.Intn(6))
			for k := range w {
				w[k] = byte('a' + rng.Intn(26))
			}
			words = append(words, string(w))
		}
		text := strings.Join(words, " ")
		want = append(want, text)
		fmt.Fprintf(&buf, "{\"id\":%d,\"text\":%q}\n", i, text)
	}
	return buf.Bytes(), want
}

func TestReadGzip(t *testing.T) {
	const uri = "gs://b/c.jsonl.gz"
	plain, want := corpus(5000)
	good := gz(t, plain)
	corrupt := bytes.Clone(good)
	for i := len(corrupt) / 2; i < len(corrupt)/2+64; i++ {
		corrupt[i] ^= 0x5a
	}
	tests := []struct {
		name    string
		data    []byte
		all     bool   // every document emitted
		wantErr string // "" for none
		rejects []Reject
	}{
		{name: "whole", data: good, all: true},
		{name: "two members", data: append(gz(t, plain[:len(plain)/2]), gz(t, plain[len(plain)/2:])...), all: true},
		{name: "truncated", data: good[:len(good)/2], wantErr: "read " + uri + ": truncated gzip stream: unexpected EOF"},
		{name: "corrupt", data: corrupt, wantErr: "read " + uri + ": corrupt gzip stream"},
		{name: "not gzip", data: plain, wantErr: "read " + uri + ": corrupt gzip stream: gzip: invalid header"},
		{name: "empty object", data: nil, all: true, rejects: []Reject{{uri, 0, "empty object"}}},
		{name: "empty stream", data: gz(t, nil), all: true, rejects: []Reject{{uri, 0, "empty object"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := read(t, uri, tc.data, Options{})
			if tc.wantErr == "" && r.err != nil || tc.wantErr != "" && (r.err == nil || !strings.HasPrefix(r.err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", r.err, tc.wantErr)
			}
			got := texts(r.docs)
			if tc.all && len(tc.data) > 100 && len(got) != len(want) {
				t.Errorf("got %d docs, want all %d", len(got), len(want))
			}
			if !tc.all && (len(got) == 0 || len(got) >= len(want)) && tc.name == "truncated" {
				t.Errorf("got %d docs, want some but not all of %d", len(got), len(want))
			}
			// A gzip stream is checked (CRC) only at its end, so what follows
			// the damage may still be emitted as garbage; what precedes it
			// must be intact.
			intact := len(got)
			if tc.name == "corrupt" {
				intact = min(intact, len(want)/3)
				if len(got) < intact {
					t.Errorf("got %d docs, want at least %d", len(got), intact)
				}
			}
			for i, s := range got[:intact] {
				if s != want[i] {
					t.Fatalf("doc %d = %q, want %q", i, s, want[i])
				}
			}
			if tc.name != "corrupt" && !reflect.DeepEqual(r.rejects, tc.rejects) {
				t.Errorf("rejects = %+v, want %+v", r.rejects[:min(len(r.rejects), 5)], tc.rejects)
			}
		})
	}
}

func TestReadText(t *testing.T) {
	tests := []struct {
		name    string
		uri     string
		data    []byte
		want    []string
		rejects []Reject
	}{
		{name: "plain", uri: "/c/a.txt", data: []byte("Zürich, 1291.\nSecond line.\n"),
			want: []string{"Zürich, 1291.\nSecond line.\n"}},
		{name: "BOM and CRLF", uri: "/c/a.txt", data: []byte("\xEF\xBB\xBFone\r\ntwo\r\n"), want: []string{"one\ntwo\n"}},
		{name: "gzip", uri: "/c/a.txt.gz", data: gz(t, []byte("zipped")), want: []string{"zipped"}},
		{name: "empty", uri: "/c/a.txt", data: nil, rejects: []Reject{{"/c/a.txt", 0, "empty object"}}},
		{name: "blank", uri: "/c/a.txt", data: []byte(" \r\n\t"), rejects: []Reject{{"/c/a.txt", 0, "empty document"}}},
		{name: "invalid UTF-8", uri: "/c/a.txt", data: []byte("\xEF\xBB\xBFok\nbad \xe2\x82 here"),
			rejects: []Reject{{"/c/a.txt", 0, "invalid UTF-8 at byte offset 10"}}},
		{name: "unknown extension", uri: "/c/a.csv", data: []byte("a,b"),
			rejects: []Reject{{"/c/a.csv", 0, `unknown format: extension ".csv"`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := read(t, tc.uri, tc.data, Options{})
			if r.err != nil {
				t.Fatal(r.err)
			}
			if got := texts(r.docs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("texts = %q, want %q", got, tc.want)
			}
			for _, d := range r.docs {
				if d.ID != tc.uri || d.Source != tc.uri || d.Line != 0 {
					t.Errorf("doc id %q source %q line %d", d.ID, d.Source, d.Line)
				}
			}
			if !reflect.DeepEqual(r.rejects, tc.rejects) {
				t.Errorf("rejects = %+v, want %+v", r.rejects, tc.rejects)
			}
		})
	}
	t.Run("too large", func(t *testing.T) {
		r := read(t, "/c/big.txt", bytes.Repeat([]byte("x"), 1000), Options{MaxDocBytes: 100})
		want := []Reject{{"/c/big.txt", 0, "document too large: 1000 bytes, limit 100"}}
		if len(r.docs) != 0 || r.err != nil || !reflect.DeepEqual(r.rejects, want) {
			t.Errorf("docs %d err %v rejects %+v", len(r.docs), r.err, r.rejects)
		}
	})
}

func TestReadErrors(t *testing.T) {
	s := store{"/c/a.jsonl": []byte(`{"text":"a"}` + "\n" + `{"text":"b"}`)}
	obj := blob.Object{URI: "/c/a.jsonl"}
	stop := errors.New("stop")
	n := 0
	err := Read(context.Background(), s, obj, Options{}, func(Doc) error { n++; return stop }, nil)
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("emit error: got %v after %d docs", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s["/c/b.jsonl.gz"] = gz(t, []byte("not json\n"))
	s["/c/c.parquet"] = writeParquet(t, 10, col{"text", str, []any{"a"}})
	for _, uri := range []string{"/c/a.jsonl", "/c/b.jsonl.gz", "/c/c.parquet"} {
		err = Read(ctx, s, blob.Object{URI: uri}, Options{}, func(Doc) error { return nil }, nil)
		if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "read "+uri+": ") {
			t.Errorf("cancelled %s: got %v", uri, err)
		}
	}
	err = Read(context.Background(), s, blob.Object{URI: "/c/missing.jsonl"}, Options{}, func(Doc) error { return nil }, nil)
	if !blob.IsNotExist(err) || !strings.Contains(err.Error(), "/c/missing.jsonl") {
		t.Errorf("missing object: got %v", err)
	}
	err = Read(context.Background(), s, obj, Options{Format: "xml"}, func(Doc) error { return nil }, nil)
	if err == nil || !strings.Contains(err.Error(), `unknown format "xml"`) {
		t.Errorf("bad format: got %v", err)
	}
	err = Read(context.Background(), s, obj, Options{BIOOrder: "up"}, func(Doc) error { return nil }, nil)
	if err == nil || !strings.Contains(err.Error(), `invalid BIO order "up"`) {
		t.Errorf("bad order: got %v", err)
	}
}

func FuzzReadJSONL(f *testing.F) {
	for _, s := range []string{
		`{"id":"a","text":"hello"}` + "\n" + `{"text":"x"}`,
		"\xEF\xBB\xBF{\"text\":\"é\"}\r\n",
		`{"text":"\ud800"}`,
		"{\"text\":\"a\xffb\"}\n\n{\"id\":1e400,\"text\":\" \"}",
		`{"text":`,
		"",
		"\n\n",
		`{"id":{},"text":"x"}`,
	} {
		f.Add([]byte(s), 0)
		f.Add([]byte(s), 8)
	}
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		opt := Options{MaxDocBytes: max}
		if _, err := readJSONL(bytes.NewReader(data), "u.jsonl", mustDefaults(t, opt), func(d Doc) error {
			checkDoc(t, d)
			return nil
		}, func(Reject) {}); err != nil {
			t.Fatalf("error on an in-memory stream: %v", err)
		}
	})
}

func mustDefaults(t testing.TB, o Options) Options {
	o, err := o.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

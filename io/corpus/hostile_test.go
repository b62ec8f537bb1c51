package corpus

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"
)

// Hostile input never stops a read: every object either gives documents
// that pass checkDoc or rejects naming the line and the reason. BOM, CRLF,
// invalid UTF-8 and a 50 MB line are covered in TestReadJSONL,
// TestReadText and TestReadLongLine.
func TestReadHostile(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	noise := make([]byte, 1<<20)
	rng.Read(noise)
	nested := func(depth int, open, close string) string {
		return strings.Repeat(open, depth) + strings.Repeat(close, depth)
	}
	mixed := "東京の首相 met مرحبا محمد in Zürich 👩\u200d💻 e\u0301te\u0301 ✓"
	tests := []struct {
		name     string
		uri      string
		data     string
		wantText []string // nil: no check of the texts
		rejects  []Reject // nil with wantText set: none; nil otherwise: no check
		wantErr  string   // the error's prefix for a damaged object, which the caller records as rejected
	}{
		{name: "random bytes as JSONL", uri: "r.jsonl", data: string(noise)},
		{name: "random bytes as text", uri: "r.txt", data: string(noise),
			rejects: []Reject{{"r.txt", 0, "invalid UTF-8 at byte offset 0"}}},
		{name: "random bytes as BIO", uri: "r.bio", data: string(noise)},
		{name: "random bytes as Parquet", uri: "r.parquet", data: string(noise), wantErr: "read r.parquet: not a parquet file"},
		{name: "random bytes as gzip", uri: "r.jsonl.gz", data: string(noise), wantErr: "read r.jsonl.gz: corrupt gzip stream"},
		{name: "escaped NUL is text", uri: "n.jsonl", data: `{"text":"a\u0000b"}`, wantText: []string{"a\x00b"}},
		{name: "raw NUL in a JSON string", uri: "n.jsonl", data: "{\"text\":\"a\x00b\"}\n{\"text\":\"ok\"}",
			wantText: []string{"ok"},
			rejects:  []Reject{{"n.jsonl", 1, "invalid JSON: invalid character '\\x00' in string literal"}}},
		{name: "NUL bytes in text", uri: "n.txt", data: "a\x00\x00b", wantText: []string{"a\x00\x00b"}},
		{name: "NUL-only line", uri: "n.jsonl", data: "\x00\x00\n{\"text\":\"ok\"}", wantText: []string{"ok"},
			rejects: []Reject{{"n.jsonl", 1, "invalid JSON: invalid character '\\x00' looking for beginning of value"}}},
		{name: "deeply nested array beside the text", uri: "d.jsonl",
			data:     `{"text":"deep","meta":` + nested(20000, "[", "]") + "}\n" + `{"text":"ok"}`,
			wantText: []string{"ok"},
			rejects:  []Reject{{"d.jsonl", 1, "invalid JSON: invalid character '[' exceeded max depth"}}},
		{name: "nested objects as the text", uri: "d.jsonl",
			data:     `{"text":` + strings.Repeat(`{"a":`, 500) + `1` + strings.Repeat("}", 500) + "}\n" + `{"text":"ok"}`,
			wantText: []string{"ok"},
			rejects:  []Reject{{"d.jsonl", 1, `text field "text" is an object, not a string`}}},
		{name: "deeply nested line", uri: "d.jsonl", data: nested(100000, "[", "]") + "\n" + `{"text":"ok"}`,
			wantText: []string{"ok"},
			rejects:  []Reject{{"d.jsonl", 1, "invalid JSON: invalid character '[' exceeded max depth"}}},
		{name: "wrong field names", uri: "w.jsonl",
			data:     `{"Text":"a"}` + "\n" + `{"body":"b"}` + "\n" + `{"text ":"c"}` + "\n" + `{"text":"d","text":"e"}`,
			wantText: []string{"e"},
			rejects: []Reject{{"w.jsonl", 1, `missing text field "text"`}, {"w.jsonl", 2, `missing text field "text"`},
				{"w.jsonl", 3, `missing text field "text"`}}},
		{name: "mixed scripts kept verbatim", uri: "m.jsonl", data: "\xEF\xBB\xBF" + `{"text":"` + mixed + `"}` + "\r\n",
			wantText: []string{mixed}},
		{name: "mixed scripts in text", uri: "m.txt", data: mixed, wantText: []string{mixed}},
		{name: "lone surrogate escape", uri: "s.jsonl", data: `{"text":"x\ud800y"}`, wantText: []string{"x\ufffdy"}},
		{name: "only separators", uri: "s.jsonl", data: "\u2028\u2029\u00a0\n\t\v\f\r\n", rejects: []Reject{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := read(t, tc.uri, []byte(tc.data), Options{})
			if tc.wantErr != "" {
				if r.err == nil || !strings.HasPrefix(r.err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", r.err, tc.wantErr)
				}
				return
			}
			if r.err != nil {
				t.Fatalf("error instead of rejects: %v", r.err)
			}
			for _, rj := range r.rejects {
				if rj.Object != tc.uri || rj.Reason == "" {
					t.Fatalf("reject %+v does not name the object and a reason", rj)
				}
			}
			if tc.wantText != nil {
				if got := texts(r.docs); strings.Join(got, "\x01") != strings.Join(tc.wantText, "\x01") {
					t.Errorf("texts = %q, want %q", got, tc.wantText)
				}
				if tc.rejects == nil && len(r.rejects) != 0 {
					t.Errorf("rejects = %+v, want none", r.rejects)
				}
			}
			if tc.rejects != nil && len(tc.rejects) > 0 && !equalRejects(r.rejects, tc.rejects) {
				t.Errorf("rejects:\n got %+v\nwant %+v", r.rejects, tc.rejects)
			}
			if len(r.docs) == 0 && len(r.rejects) == 0 {
				t.Errorf("neither documents nor rejects")
			}
		})
	}
}

func equalRejects(a, b []Reject) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A random-byte BIO object is read in full by both readers, whatever its
// line structure.
func TestReadBIOHostile(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	var b bytes.Buffer
	for range 20000 {
		switch rng.Intn(6) {
		case 0:
			b.WriteString("\n")
		case 1:
			b.WriteString("\r\n\t")
		case 2:
			b.WriteString("東京\tB-x\n")
		case 3:
			b.WriteString("\x00\tO\n")
		default:
			b.WriteByte(byte(rng.Intn(256)))
		}
	}
	r := read(t, "h.bio", b.Bytes(), Options{SentencesPerDoc: 2})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.docs)+len(r.rejects) == 0 {
		t.Fatal("neither documents nor rejects")
	}
}

package corpus

import (
	"bufio"
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zeroner/zeroner/internal/dataset"
)

func readBIOFile(t *testing.T, path string, opt Options) []Doc {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs []Doc
	if err := ReadBIO(f, "file://"+path, opt, func(d Doc) error {
		checkDoc(t, d)
		docs = append(docs, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return docs
}

// sentences parses a BIO file naively into tokens and tags per sentence.
func sentences(t *testing.T, path string, tagFirst bool) (tokens, tags [][]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tok, tag []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if sc.Text() == "" {
			if len(tok) > 0 {
				tokens, tags = append(tokens, tok), append(tags, tag)
				tok, tag = nil, nil
			}
			continue
		}
		a, b, _ := strings.Cut(sc.Text(), "\t")
		if tagFirst {
			a, b = b, a
		}
		tok, tag = append(tok, a), append(tag, b)
	}
	if len(tok) > 0 {
		tokens, tags = append(tokens, tok), append(tags, tag)
	}
	return tokens, tags
}

// spanText returns the code points [s.Start, s.End) of text.
func spanText(text string, s Span) string {
	r := []rune(text)
	return string(r[s.Start:s.End])
}

func TestReadBIOData(t *testing.T) {
	crossnerDev := dataset.Path(t, "crossner", "ai", "dev.txt")
	mitTest := dataset.Path(t, "mit", "restaurant", "restauranttest.txt")
	tests := []struct {
		name     string
		path     string
		order    string
		tagFirst bool
		docs     int // from data/README.md
		entities int
		first    []string // "label=text" of the first sentence's spans
	}{
		{"crossner auto", crossnerDev, "", false, 350, 1549, []string{"metrics=accuracy", "metrics=error rate"}},
		{"crossner token-tag", crossnerDev, OrderTokenTag, false, 350, 1549, nil},
		{"mit auto", mitTest, "auto", true, 1521, 3151, []string{"Rating=four star", "Location=with a", "Amenity=bar"}},
		{"mit tag-token", mitTest, OrderTagToken, true, 1521, 3151, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docs := readBIOFile(t, tc.path, Options{BIOOrder: tc.order})
			tokens, tags := sentences(t, tc.path, tc.tagFirst)
			if len(docs) != tc.docs || len(tokens) != tc.docs {
				t.Fatalf("got %d docs, file has %d sentences, want %d", len(docs), len(tokens), tc.docs)
			}
			entities := 0
			for i, d := range docs {
				if d.Text != strings.Join(tokens[i], " ") {
					t.Fatalf("doc %d text %q, want the tokens %q", i, d.Text, tokens[i])
				}
				checkSpans(t, d, tokens[i], tags[i])
				entities += len(d.Gold)
			}
			if entities != tc.entities {
				t.Errorf("entities = %d, want %d", entities, tc.entities)
			}
			if tc.first != nil {
				var got []string
				for _, s := range docs[0].Gold {
					got = append(got, s.Label+"="+spanText(docs[0].Text, s))
				}
				if !reflect.DeepEqual(got, tc.first) {
					t.Errorf("first sentence spans %q, want %q", got, tc.first)
				}
			}
			if want := "file://" + tc.path + "#S2"; docs[1].ID != want {
				t.Errorf("second ID %q, want %q", docs[1].ID, want)
			}
		})
	}
}

// checkSpans checks a sentence's spans against its tags: each span covers
// whole tokens, starts at a B- or an I- that does not continue a span of
// its type, goes on over I- of its type, and the spans' text is their
// tokens'.
func checkSpans(t *testing.T, d Doc, tokens, tags []string) {
	t.Helper()
	start := map[int]int{} // code point offset -> token index
	end := map[int]int{}
	off := 0
	for i, tok := range tokens {
		start[off] = i
		off += utf8.RuneCountInString(tok)
		end[off] = i
		off++
	}
	starts := 0
	for i, tag := range tags {
		if tag == "O" {
			continue
		}
		if tag[0] == 'B' || i == 0 || tags[i-1] == "O" || tags[i-1][2:] != tag[2:] {
			starts++
		}
	}
	if len(d.Gold) != starts {
		t.Fatalf("%s: %d spans, tags start %d", d.ID, len(d.Gold), starts)
	}
	for _, s := range d.Gold {
		first, ok1 := start[s.Start]
		last, ok2 := end[s.End]
		if !ok1 || !ok2 {
			t.Fatalf("%s: span %+v is not on token boundaries", d.ID, s)
		}
		if tags[first][2:] != s.Label {
			t.Fatalf("%s: span %+v starts at tag %s", d.ID, s, tags[first])
		}
		for i := first + 1; i <= last; i++ {
			if tags[i] != "I-"+s.Label {
				t.Fatalf("%s: span %+v covers tag %s", d.ID, s, tags[i])
			}
		}
		if last+1 < len(tags) && tags[last+1] == "I-"+s.Label {
			t.Fatalf("%s: span %+v stops before %s", d.ID, s, tags[last+1])
		}
		if got, want := spanText(d.Text, s), strings.Join(tokens[first:last+1], " "); got != want {
			t.Fatalf("%s: span text %q, tokens %q", d.ID, got, want)
		}
	}
}

func TestReadBIO(t *testing.T) {
	const src = "mem://x.bio"
	tests := []struct {
		name    string
		data    string
		opt     Options
		want    []Doc
		wantErr string
	}{
		{
			name: "code point offsets",
			data: "Café\tB-org\nMüller\tI-org\nin\tO\n東京\tB-loc\n🙂\tO\n",
			want: []Doc{{ID: src + "#S1", Text: "Café Müller in 東京 🙂", Line: 1,
				Gold: []Span{{0, 11, "org"}, {15, 17, "loc"}}}},
		},
		{
			name: "I- without B- starts a span, as in conlleval",
			data: "a\tI-per\nb\tI-per\nc\tI-loc\nd\tB-loc\ne\tI-loc\nf\tO\ng\tI-loc\n",
			want: []Doc{{ID: src + "#S1", Text: "a b c d e f g", Line: 1,
				Gold: []Span{{0, 3, "per"}, {4, 5, "loc"}, {6, 9, "loc"}, {12, 13, "loc"}}}},
		},
		{
			name: "spans end with the sentence",
			data: "a\tB-x\n\nb\tI-x\n",
			opt:  Options{SentencesPerDoc: 2},
			want: []Doc{{ID: src + "#S1", Text: "a b", Line: 1, Gold: []Span{{0, 1, "x"}, {2, 3, "x"}}}},
		},
		{
			name: "sentences grouped",
			data: "one\tB-n\n\n\n\ntwo\tO\n\nthree\tB-n\nfour\tI-n",
			opt:  Options{SentencesPerDoc: 2},
			want: []Doc{
				{ID: src + "#S1", Text: "one two", Line: 1, Gold: []Span{{0, 3, "n"}}},
				{ID: src + "#S3", Text: "three four", Line: 7, Gold: []Span{{0, 10, "n"}}},
			},
		},
		{
			name: "BOM, CRLF, DOCSTART, spaces and extra columns",
			data: "\xEF\xBB\xBF-DOCSTART- -X- -X- O\r\n\r\nEU NNP B-NP B-ORG\r\nrejects VBZ B-VP O\r\n\r\nPeter NNP B-NP B-PER\r\n",
			want: []Doc{
				{ID: src + "#S1", Text: "EU rejects", Line: 3, Gold: []Span{{0, 2, "ORG"}}},
				{ID: src + "#S2", Text: "Peter", Line: 6, Gold: []Span{{0, 5, "PER"}}},
			},
		},
		{
			name: "auto: tokens that look like tags",
			data: "O\tO\nI-writer\tB-writer\nX\tI-writer\n\nfoo\tO\n",
			want: []Doc{
				{ID: src + "#S1", Text: "O I-writer X", Line: 1, Gold: []Span{{2, 12, "writer"}}},
				{ID: src + "#S2", Text: "foo", Line: 5},
			},
		},
		{
			name: "auto: tag first",
			data: "O\tO\nB-Dish\tI-Dish\nI-Dish\tpie\n",
			want: []Doc{{ID: src + "#S1", Text: "O I-Dish pie", Line: 1, Gold: []Span{{2, 12, "Dish"}}}},
		},
		{
			name: "empty input",
			data: "\n\n",
		},
		{
			name:    "wrong order",
			data:    "O\ta\nB-Rating\tfour\n",
			opt:     Options{BIOOrder: OrderTokenTag},
			wantErr: `read mem://x.bio: line 1: invalid tag "a"`,
		},
		{
			name:    "one column",
			data:    "a\tO\n\nb\n",
			wantErr: "read mem://x.bio: line 3: expected token and tag columns",
		},
		{
			name:    "invalid UTF-8",
			data:    "a\tO\nb\xff\tO\n",
			wantErr: "read mem://x.bio: line 2: invalid UTF-8 at byte offset 1",
		},
		{
			name:    "too large",
			data:    "abc\tO\ndef\tO\n",
			opt:     Options{MaxDocBytes: 5},
			wantErr: "read mem://x.bio: line 2: document too large: 7 bytes, limit 5",
		},
		{
			name:    "bad order option",
			opt:     Options{BIOOrder: "tag"},
			wantErr: `read mem://x.bio: invalid BIO order "tag"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []Doc
			err := ReadBIO(strings.NewReader(tc.data), src, tc.opt, func(d Doc) error {
				checkDoc(t, d)
				got = append(got, d)
				return nil
			})
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.want {
				tc.want[i].Source = src
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// Read rejects a malformed BIO document and goes on.
func TestReadBIOObject(t *testing.T) {
	data := "a\tO\n\nb\tX-bad\nc\tO\n\nd\xff\tB-x\n\ne\tB-x\n"
	tests := []struct {
		name    string
		uri     string
		data    string
		opt     Options
		ids     []string
		rejects []Reject
	}{
		{"one sentence per doc", "/c/a.bio", data, Options{},
			[]string{"/c/a.bio#S1", "/c/a.bio#S4"},
			[]Reject{{"/c/a.bio", 3, `invalid tag "X-bad"`}, {"/c/a.bio", 6, "invalid UTF-8 at byte offset 1"}}},
		{"two per doc", "/c/a.conll", data, Options{SentencesPerDoc: 2},
			nil,
			[]Reject{{"/c/a.conll", 3, `invalid tag "X-bad"`}, {"/c/a.conll", 6, "invalid UTF-8 at byte offset 1"}}},
		{"long line", "/c/a.bio", "x\tO\n\n" + strings.Repeat("y", 100) + "\tO\r\n\nz\tO\n", Options{MaxDocBytes: 50},
			[]string{"/c/a.bio#S1", "/c/a.bio#S3"},
			[]Reject{{"/c/a.bio", 3, "document too large: 102 bytes, limit 50"}}},
		{"format override", "/c/dev.txt", "x\tO\n", Options{Format: "bio"}, []string{"/c/dev.txt#S1"}, nil},
		{"gzip", "/c/a.bio.gz", string(gz(t, []byte("x\tO\n"))), Options{}, []string{"/c/a.bio.gz#S1"}, nil},
		{"empty", "/c/a.bio", "\r\n", Options{}, nil, []Reject{{"/c/a.bio", 0, "empty object"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := read(t, tc.uri, []byte(tc.data), tc.opt)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if got := ids(r.docs); !reflect.DeepEqual(got, tc.ids) {
				t.Errorf("ids = %q, want %q", got, tc.ids)
			}
			if !reflect.DeepEqual(r.rejects, tc.rejects) {
				t.Errorf("rejects = %+v, want %+v", r.rejects, tc.rejects)
			}
		})
	}
}

func FuzzReadBIO(f *testing.F) {
	seeds := []string{
		"Here\tO\n,\tO\naccuracy\tB-metrics\n\nerror\tB-metrics\nrate\tI-metrics\n",
		"O\ta\nB-Rating\tfour\nI-Rating\tstar\n\nB-Amenity\tbar\n",
		"a\tI-x\nb\tI-y\nc\tI-y\r\n\r\n",
		"\xEF\xBB\xBFé\tB-x\n東京\tI-x\n\n\n",
		"-DOCSTART- -X- O\n\nEU NNP B-NP B-ORG\n",
		"a\xff\tO\n",
		"single\n",
		"\t\t\n",
		"",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint8(0), uint8(1))
		f.Add([]byte(s), uint8(2), uint8(3))
	}
	orders := []string{OrderAuto, OrderTokenTag, OrderTagToken}
	f.Fuzz(func(t *testing.T, data []byte, order, perDoc uint8) {
		opt := Options{BIOOrder: orders[int(order)%len(orders)], SentencesPerDoc: int(perDoc % 4)}
		// Strict and lenient readers must agree on every document they emit.
		var strict []Doc
		err := ReadBIO(bytes.NewReader(data), "f.bio", opt, func(d Doc) error {
			checkDoc(t, d)
			strict = append(strict, d)
			return nil
		})
		r := read(t, "f.bio", data, opt)
		if r.err != nil {
			t.Fatalf("Read: %v", r.err)
		}
		if err == nil && len(r.rejects) > 0 && !(len(r.rejects) == 1 && r.rejects[0].Reason == "empty object") {
			t.Fatalf("ReadBIO accepted what Read rejected: %+v", r.rejects)
		}
		if len(strict) > len(r.docs) || len(strict) > 0 && !reflect.DeepEqual(strict, r.docs[:len(strict)]) {
			t.Fatalf("ReadBIO and Read disagree:\n%+v\n%+v", strict, r.docs)
		}
	})
}

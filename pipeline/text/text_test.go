package text

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

func texts(ts []Token) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Text
	}
	return out
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"plain", "Hello, world!", []string{"Hello", ",", "world", "!"}},
		{"hyphen", "Wright-Patterson Air Force Base", []string{"Wright-Patterson", "Air", "Force", "Base"}},
		{"apostrophe", "O'Brien didn't go", []string{"O'Brien", "didn't", "go"}},
		{"possessive", "Mozart's Requiem", []string{"Mozart", "'s", "Requiem"}},
		{"spaced possessive", "People 's Choice", []string{"People", "'s", "Choice"}},
		{"curly possessive", "Bach’s", []string{"Bach", "’s"}},
		{"quotes", `the song "Yesterday" by 'Beatles'`, []string{"the", "song", `"`, "Yesterday", `"`, "by", "'", "Beatles", "'"}},
		{"numbers", "1,800 papers cost 3.14 or -2", []string{"1,800", "papers", "cost", "3.14", "or", "-", "2"}},
		{"number range", "1990-2000", []string{"1990-2000"}},
		{"alnum", "the O2 and 3Arena", []string{"the", "O2", "and", "3Arena"}},
		{"abbreviations", "Dr. Smith of the U.S. Navy, e.g. here.", []string{"Dr.", "Smith", "of", "the", "U.S.", "Navy", ",", "e.g.", "here", "."}},
		{"initial", "J. S. Bach", []string{"J.", "S.", "Bach"}},
		{"sentence end", "It ended.", []string{"It", "ended", "."}},
		{"accents", "Jürgen Schmidhuber and Sinn Féin", []string{"Jürgen", "Schmidhuber", "and", "Sinn", "Féin"}},
		{"combining", "Cafe\u0301 noir", []string{"Cafe\u0301", "noir"}},
		{"cjk", "東京は日本の首都", []string{"東", "京", "は", "日", "本", "の", "首", "都"}},
		{"hangul", "서울 특별시", []string{"서울", "특별시"}},
		{"emoji", "nice 👍🏽 job 🎉!", []string{"nice", "👍🏽", "job", "🎉", "!"}},
		{"zwj emoji", "a 👩\u200d💻 b", []string{"a", "👩\u200d💻", "b"}},
		{"variation selector", "I ❤\ufe0f Go", []string{"I", "❤\ufe0f", "Go"}},
		{"cyrillic", "Лев Толстой", []string{"Лев", "Толстой"}},
		{"empty", "  ", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Tokenize(tt.in)
			if !reflect.DeepEqual(texts(got), tt.want) {
				t.Fatalf("Tokenize(%q) = %q, want %q", tt.in, texts(got), tt.want)
			}
			rs := []rune(tt.in)
			for _, tok := range got {
				if string(rs[tok.Start:tok.End]) != tok.Text {
					t.Errorf("token %q has offsets [%d,%d) = %q", tok.Text, tok.Start, tok.End, string(rs[tok.Start:tok.End]))
				}
			}
		})
	}
}

func TestTokenOffsetsAreCodePoints(t *testing.T) {
	s := "日本 🎉 Zoë"
	toks := Tokenize(s)
	want := []Token{{"日", 0, 1}, {"本", 1, 2}, {"🎉", 3, 4}, {"Zoë", 5, 8}}
	if !reflect.DeepEqual(toks, want) {
		t.Fatalf("got %+v, want %+v", toks, want)
	}
}

func TestSentences(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"two", "It rained. We left!", []string{"It rained.", "We left!"}},
		{"title", "Dr. Smith met Mr. Jones. They talked.", []string{"Dr. Smith met Mr. Jones.", "They talked."}},
		{"initialism mid", "The U.S. Navy grew. It won.", []string{"The U.S. Navy grew.", "It won."}},
		{"initialism end", "He lived in the U.S. The end.", []string{"He lived in the U.S.", "The end."}},
		{"eg", "Languages, e.g. Python, are fun. Yes?", []string{"Languages, e.g. Python, are fun.", "Yes?"}},
		{"initials", "By J. S. Bach in 1720. Later more.", []string{"By J. S. Bach in 1720.", "Later more."}},
		{"decimal", "Pi is 3.14 roughly. Ok.", []string{"Pi is 3.14 roughly.", "Ok."}},
		{"quote close", `He said "stop." Then left.`, []string{`He said "stop."`, "Then left."}},
		{"ellipsis", "Wait... What?! No.", []string{"Wait...", "What?!", "No."}},
		{"cjk", "我很好。你呢？好！", []string{"我很好。", "你呢？", "好！"}},
		{"blank line", "Title line\n\nBody text", []string{"Title line", "Body text"}},
		{"no end", "  trailing words  ", []string{"trailing words"}},
		{"emoji", "Great 🎉. Next 👍🏽 one.", []string{"Great 🎉.", "Next 👍🏽 one."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := []rune(tt.in)
			var got []string
			for _, sp := range Sentences(tt.in) {
				got = append(got, string(rs[sp.Start:sp.End]))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Sentences(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestIsAbbrev(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"Dr.", true}, {"U.S.", true}, {"e.g.", true}, {"J.", true}, {"Inc", true},
		{"Ph.D.", true}, {"end.", false}, {"the", false}, {"", false}, {"..", false},
	}
	for _, tt := range tests {
		if got := IsAbbrev(tt.in); got != tt.want {
			t.Errorf("IsAbbrev(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRuneOffsets(t *testing.T) {
	s := "aé日🎉b"
	o := NewRuneOffsets(s)
	if o.Len() != utf8.RuneCountInString(s) {
		t.Fatalf("Len = %d", o.Len())
	}
	tests := []struct{ r, b int }{{0, 0}, {1, 1}, {2, 3}, {3, 6}, {4, 10}, {5, 11}}
	for _, tt := range tests {
		if got := o.Byte(tt.r); got != tt.b {
			t.Errorf("Byte(%d) = %d, want %d", tt.r, got, tt.b)
		}
		if got := o.Rune(tt.b); got != tt.r {
			t.Errorf("Rune(%d) = %d, want %d", tt.b, got, tt.r)
		}
	}
	if got := o.Rune(4); got != 2 { // inside 日
		t.Errorf("Rune(4) = %d, want 2", got)
	}
	if got := Slice(s, 2, 4); got != "日🎉" {
		t.Errorf("Slice = %q", got)
	}
	if got := o.Byte(99); got != len(s) {
		t.Errorf("Byte(99) = %d", got)
	}
}

package retriever

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/zeroner/zeroner/pipeline/featurehash"
	"github.com/zeroner/zeroner/pipeline/text"
)

// Local is the built-in encoder: it needs no model, only the text. A
// mention becomes hashed sparse features of three kinds, each group scaled
// to unit length, weighted, summed and L2-normalised:
//
//   - the mention itself: its lower-cased words, its last word (the
//     paper's vector is taken at the mention's last token) with the most
//     weight, its first word, the whole string, its word shape ("Xx Xx"),
//     the last word's shape, prefix and suffixes, its capitalisation and
//     its length in words;
//   - its context, position-tagged: the three tokens either side with
//     their distance ("L1:the", "R2:of"), the nearest token's shape on each
//     side and the two-token phrases next to it ("L21:mayor of");
//   - a bag of content words: the mention's words and the content words up
//     to eight words either side, weighted by distance, stop words left out
//     and plurals folded ("teams" is "team").
//
// A type description is hashed into the same space: its content words go
// to the bag of words, where they meet the words of mentions and contexts
// ("city" in a query meets "the city of <m>Lyon</m>"), and a short
// description's last word meets a mention's last word ("sports team" and
// "the team"). Only the bag of words carries meaning between queries and
// mentions; the other features make mentions of one kind look alike, which
// the projection head (Head) learns to use.
//
// Each feature is hashed with 64-bit FNV-1a, mixed, and added with a sign
// taken from the hash into one of Dim buckets, so collisions cancel out on
// average. Local is deterministic, safe for concurrent use, and encodes
// large batches on every CPU (GOMAXPROCS).
type Local struct {
	dim  int
	pool sync.Pool // of *featurizer, one per goroutine at a time
}

// LocalVersion is bumped whenever a change to the features changes the
// vectors; it is part of Name, so an index built by an older version is
// refused rather than searched with incompatible queries.
const LocalVersion = "v1"

// DefaultDim is the width of Local vectors when NewLocal is given 0. It is
// the width of the paper's value vectors.
const DefaultDim = 1024

// Feature weights within their group.
const (
	wLast     = 2.0 // the mention's last word
	wWord     = 1.0 // each of the mention's words
	wFirst    = 0.5 // first word of a longer mention
	wWhole    = 1.0 // the whole mention, lower-cased
	wShape    = 1.0 // the mention's word shape
	wLastPart = 0.5 // last word's shape, prefix and suffixes
	wCap      = 1.0 // capitalisation class
	wLen      = 0.5 // length in words
	wNearHint = 0.5 // shape of the nearest token either side
	wPhrase   = 0.7 // two-token phrase next to the mention
	wBagLast  = 1.5 // the mention's last word in the bag of words
	bagDecay  = 3.0 // a description's i-th content word weighs 1/sqrt(1+i/bagDecay)
)

// Group weights: each group is first scaled to unit length.
const (
	gMention  = 1.0
	gContext  = 0.8
	gBag      = 1.0
	gQueryKey = 0.5 // a description's last word, against its bag of words
)

// Sizes.
const (
	ctxTokens = 3   // position-tagged tokens either side
	bagWords  = 8   // context words either side in the bag of words
	ctxRunes  = 256 // code points either side that are tokenised
	shortDesc = 3   // content words up to which a description has a "last word"
	parallelN = 64  // mentions per parallel work unit
	minNorm   = 1e-12
)

// Feature kinds. Each prefixes its values in the hash, so that "the" as
// the token left of a mention and "the" as a mention word differ.
const (
	kLast   = "last"
	kWord   = "mw"
	kFirst  = "first"
	kWhole  = "whole"
	kShape  = "shape"
	kLShape = "lshape"
	kPre3   = "pre3"
	kSuf2   = "suf2"
	kSuf3   = "suf3"
	kSuf4   = "suf4"
	kCap    = "cap"
	kLen    = "len"
	kBag    = "bow"
	kL1Hint = "L1s"
	kR1Hint = "R1s"
	kL21    = "L21"
	kR12    = "R12"
	bosTok  = "<s>"
	eosTok  = "</s>"
)

var (
	leftKinds  = [ctxTokens]string{"L1", "L2", "L3"}
	rightKinds = [ctxTokens]string{"R1", "R2", "R3"}
	lenNames   = [...]string{"0", "1", "2", "3", "4+"}
)

// NewLocal returns a local encoder of dim-wide vectors; 0 means DefaultDim.
// It panics if dim is negative.
func NewLocal(dim int) *Local {
	if dim < 0 {
		panic(fmt.Sprintf("retriever: NewLocal: negative dimension %d", dim))
	}
	if dim == 0 {
		dim = DefaultDim
	}
	l := &Local{dim: dim}
	l.pool.New = func() any { return newFeaturizer(dim) }
	return l
}

// Name implements Encoder: "local/v1/1024".
func (l *Local) Name() string { return fmt.Sprintf("local/%s/%d", LocalVersion, l.dim) }

// Dim implements Encoder.
func (l *Local) Dim() int { return l.dim }

// Mentions implements Encoder. A mention whose span does not fit its text
// (see Valid) is an error; the first such mention is reported.
func (l *Local) Mentions(ctx context.Context, ms []Mention) ([][]float32, error) {
	out := make([][]float32, len(ms))
	backing := make([]float32, len(ms)*l.dim)
	for i := range out {
		out[i] = backing[i*l.dim : (i+1)*l.dim : (i+1)*l.dim]
	}
	units := (len(ms) + parallelN - 1) / parallelN
	workers := min(runtime.GOMAXPROCS(0), units)
	bad := make([]int, max(workers, 1)) // each worker's first invalid mention
	if workers <= 1 {
		bad[0] = l.encodeRange(ctx, ms, out, 0, len(ms))
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				bad[w] = -1
				for {
					u := int(next.Add(1)) - 1
					if u >= units || ctx.Err() != nil {
						return
					}
					lo, hi := u*parallelN, min((u+1)*parallelN, len(ms))
					if b := l.encodeRange(ctx, ms, out, lo, hi); b >= 0 && (bad[w] < 0 || b < bad[w]) {
						bad[w] = b
					}
				}
			}()
		}
		wg.Wait()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	first := -1
	for _, b := range bad {
		if b >= 0 && (first < 0 || b < first) {
			first = b
		}
	}
	if first >= 0 {
		m := ms[first]
		return nil, fmt.Errorf("mention %d: span [%d,%d) does not fit its text of %d code points",
			first, m.Start, m.End, utf8.RuneCountInString(m.Text))
	}
	return out, nil
}

// encodeRange encodes ms[lo:hi] into out and returns the index of the first
// invalid mention, or -1.
func (l *Local) encodeRange(ctx context.Context, ms []Mention, out [][]float32, lo, hi int) int {
	f := l.pool.Get().(*featurizer)
	defer l.pool.Put(f)
	bad := -1
	for i := lo; i < hi; i++ {
		if !f.mention(ms[i], out[i]) && bad < 0 {
			bad = i
		}
	}
	return bad
}

// Queries implements Encoder. Stop words are left out of a description
// unless it has nothing else ("the who"); a description without words is
// the zero vector.
func (l *Local) Queries(ctx context.Context, descs []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f := l.pool.Get().(*featurizer)
	defer l.pool.Put(f)
	out := make([][]float32, len(descs))
	for i, d := range descs {
		out[i] = make([]float32, l.dim)
		f.query(d, out[i])
	}
	return out, nil
}

// featurizer holds one goroutine's scratch space.
type featurizer struct {
	dim           uint64
	ment, ctx, bg group
	words         []string // lower-cased words of the mention
	shapeBuf      []byte
}

func newFeaturizer(dim int) *featurizer {
	return &featurizer{
		dim:  uint64(dim),
		ment: newGroup(dim), ctx: newGroup(dim), bg: newGroup(dim),
	}
}

// mention writes m's unit vector into out; false if its span is invalid.
func (f *featurizer) mention(m Mention, out []float32) bool {
	left, mid, right, bos, eos, ok := window(m)
	if !ok {
		return false
	}
	f.mentionFeatures(mid)
	f.contextFeatures(left, right, bos, eos)
	f.ment.flush(out, gMention)
	f.ctx.flush(out, gContext)
	f.bg.flush(out, gBag)
	normalize(out)
	return true
}

func (f *featurizer) mentionFeatures(mid string) {
	toks := text.Tokenize(mid)
	f.words = f.words[:0]
	lastTok := ""
	for _, t := range toks {
		if isWord(t.Text) {
			f.words = append(f.words, strings.ToLower(t.Text))
			lastTok = t.Text
		}
	}
	if len(f.words) == 0 { // a mention of symbols only: "&", "#"
		for _, t := range toks {
			f.words = append(f.words, t.Text)
			lastTok = t.Text
		}
	}
	g := &f.ment
	if len(f.words) == 0 {
		g.add(hashOf(kLen).str(lenNames[0]), wLen)
		return
	}
	last := f.words[len(f.words)-1]
	g.add(hashOf(kLast).str(last), wLast)
	if len(f.words) > 1 {
		g.add(hashOf(kFirst).str(f.words[0]), wFirst)
	}
	whole := hashOf(kWhole)
	for i, w := range f.words {
		g.add(hashOf(kWord).str(w), wWord)
		if i > 0 {
			whole = whole.byte(' ')
		}
		whole = whole.str(w)
		if !stopWords[w] {
			wt := float32(wWord)
			if i == len(f.words)-1 {
				wt = wBagLast
			}
			f.bg.add(hashOf(kBag).str(stem(w)), wt)
		}
	}
	g.add(whole, wWhole)
	g.add(hashOf(kLen).str(lenNames[min(len(f.words), len(lenNames)-1)]), wLen)

	// Shapes and case come from the original tokens, punctuation included:
	// "St. Louis" is "Xx. Xx", "AT&T" is "X & X".
	shape := hashOf(kShape)
	for i, t := range toks {
		if i == 4 {
			shape = shape.str(" …")
			break
		}
		if i > 0 {
			shape = shape.byte(' ')
		}
		f.shapeBuf = appendShape(f.shapeBuf[:0], t.Text)
		shape = shape.bytes(f.shapeBuf)
	}
	g.add(shape, wShape)
	f.shapeBuf = appendShape(f.shapeBuf[:0], lastTok)
	g.add(hashOf(kLShape).bytes(f.shapeBuf), wLastPart)
	if rs := []rune(last); len(rs) > 3 {
		g.add(hashOf(kPre3).str(string(rs[:3])), wLastPart)
		for k, kind := range [...]string{kSuf2, kSuf3, kSuf4} {
			if len(rs) > k+2 {
				g.add(hashOf(kind).str(string(rs[len(rs)-k-2:])), wLastPart)
			}
		}
	}
	g.add(hashOf(kCap).str(capClass(toks)), wCap)
}

// capClass is the capitalisation of a mention's words: "title" when every
// word starts with a capital ("New York"), "upper" when no letter is lower
// case ("NASA"), "lower", "mixed" ("the Beatles", "iPhone"), or "none"
// without letters.
func capClass(toks []text.Token) string {
	letters, upper, lower, title := false, true, true, true
	for _, t := range toks {
		first := true
		for _, r := range t.Text {
			if !unicode.IsLetter(r) {
				first = false
				continue
			}
			letters = true
			u, l := unicode.IsUpper(r), unicode.IsLower(r)
			upper = upper && !l
			lower = lower && !u
			if first {
				title = title && !l
			}
			first = false
		}
	}
	switch {
	case !letters:
		return "none"
	case upper:
		return "upper"
	case lower:
		return "lower"
	case title:
		return "title"
	}
	return "mixed"
}

func (f *featurizer) contextFeatures(left, right string, bos, eos bool) {
	ltoks, rtoks := text.Tokenize(left), text.Tokenize(right)
	tok := func(ts []text.Token, i int, edge bool, boundary string) (string, bool) {
		switch {
		case i < len(ts):
			return strings.ToLower(ts[i].Text), true
		case i == len(ts) && edge:
			return boundary, true
		}
		return "", false
	}
	// Left tokens are counted from the mention outwards.
	lt := func(i int) (string, bool) {
		if i < len(ltoks) {
			return strings.ToLower(ltoks[len(ltoks)-1-i].Text), true
		}
		return tok(nil, i-len(ltoks), bos, bosTok)
	}
	rt := func(i int) (string, bool) { return tok(rtoks, i, eos, eosTok) }
	g := &f.ctx
	var near [2][2]string
	for i := range ctxTokens {
		if w, ok := lt(i); ok {
			g.add(hashOf(leftKinds[i]).str(w), 1/float32(i+1))
			if i < 2 {
				near[0][i] = w
			}
		}
		if w, ok := rt(i); ok {
			g.add(hashOf(rightKinds[i]).str(w), 1/float32(i+1))
			if i < 2 {
				near[1][i] = w
			}
		}
	}
	if near[0][1] != "" {
		g.add(hashOf(kL21).str(near[0][1]).byte(' ').str(near[0][0]), wPhrase)
	}
	if near[1][1] != "" {
		g.add(hashOf(kR12).str(near[1][0]).byte(' ').str(near[1][1]), wPhrase)
	}
	if len(ltoks) > 0 {
		f.shapeBuf = appendShape(f.shapeBuf[:0], ltoks[len(ltoks)-1].Text)
		g.add(hashOf(kL1Hint).bytes(f.shapeBuf), wNearHint)
	}
	if len(rtoks) > 0 {
		f.shapeBuf = appendShape(f.shapeBuf[:0], rtoks[0].Text)
		g.add(hashOf(kR1Hint).bytes(f.shapeBuf), wNearHint)
	}

	// Bag of words: distance counts words, the nearest being 1.
	d := 0
	for i := len(ltoks) - 1; i >= 0 && d < bagWords; i-- {
		f.bagWord(ltoks[i].Text, &d)
	}
	d = 0
	for i := 0; i < len(rtoks) && d < bagWords; i++ {
		f.bagWord(rtoks[i].Text, &d)
	}
}

// bagWord adds a context token to the bag of words if it is a content word,
// counting it in *d.
func (f *featurizer) bagWord(tok string, d *int) {
	if !isWord(tok) {
		return
	}
	*d++
	w := strings.ToLower(tok)
	if stopWords[w] {
		return
	}
	f.bg.add(hashOf(kBag).str(stem(w)), float32(1/math.Sqrt(float64(*d))))
}

// query writes the unit vector of a type description into out.
func (f *featurizer) query(desc string, out []float32) {
	words := Words(desc)
	content := words[:0:0]
	for _, w := range words {
		if !stopWords[w] {
			content = append(content, w)
		}
	}
	if len(content) == 0 {
		content = words
	}
	for i, w := range content {
		f.bg.add(hashOf(kBag).str(stem(w)), float32(1/math.Sqrt(1+float64(i)/bagDecay)))
	}
	if n := len(content); n > 0 && n <= shortDesc {
		f.ment.add(hashOf(kLast).str(content[n-1]), 1)
	}
	f.bg.flush(out, 1)
	f.ment.flush(out, gQueryKey)
	normalize(out)
}

// window splits m.Text around the mention: up to ctxRunes code points of
// left context, the mention, up to ctxRunes of right context, and whether
// the left context starts the text and the right one ends it. It scans the
// text only up to the end of the right context.
func window(m Mention) (left, mid, right string, bos, eos, ok bool) {
	if m.Start < 0 || m.End < m.Start {
		return "", "", "", false, false, false
	}
	pos := [4]int{max(0, m.Start-ctxRunes), m.Start, m.End, m.End + ctxRunes}
	offs := [4]int{-1, -1, -1, -1}
	k, n := 0, 0
	for i := range m.Text {
		for k < 4 && pos[k] == n {
			offs[k] = i
			k++
		}
		if k == 4 {
			break
		}
		n++
	}
	for ; k < 4 && pos[k] == n; k++ {
		offs[k] = len(m.Text)
	}
	if offs[2] < 0 {
		return "", "", "", false, false, false
	}
	if offs[3] < 0 {
		offs[3] = len(m.Text)
	}
	s := m.Text
	return s[offs[0]:offs[1]], s[offs[1]:offs[2]], s[offs[2]:offs[3]], pos[0] == 0, offs[3] == len(s), true
}

// appendShape appends the word shape of w: upper-case letters are X,
// lower-case x, digits d, other runes themselves (non-ASCII ones as "*"),
// with repeats collapsed: "McDonald" is "XxXx", "1,800" is "d,d".
func appendShape(buf []byte, w string) []byte {
	var prev byte
	for _, r := range w {
		var c byte
		switch {
		case unicode.IsUpper(r):
			c = 'X'
		case unicode.IsLetter(r):
			c = 'x'
		case unicode.IsDigit(r):
			c = 'd'
		case r < utf8.RuneSelf:
			c = byte(r)
		default:
			c = '*'
		}
		if c != prev {
			buf = append(buf, c)
			prev = c
		}
	}
	return buf
}

// group accumulates one group of hashed features into dense buckets,
// remembering which buckets it touched so that flushing and resetting cost
// only as much as the features did.
type group struct {
	dim     uint64
	vals    []float32
	stamp   []uint32 // stamp[b] == epoch: vals[b] belongs to this round
	epoch   uint32
	touched []int32
}

func newGroup(dim int) group {
	return group{dim: uint64(dim), vals: make([]float32, dim), stamp: make([]uint32, dim), epoch: 1}
}

// add adds w to the bucket of feature hash h, with the hash's sign.
func (g *group) add(h fnv, w float32) {
	x := featurehash.Mix(uint64(h))
	b := int32((x & 0xffffffff) * g.dim >> 32)
	if x>>63 != 0 {
		w = -w
	}
	if g.stamp[b] != g.epoch {
		g.stamp[b] = g.epoch
		g.vals[b] = 0
		g.touched = append(g.touched, b)
	}
	g.vals[b] += w
}

// flush adds the group, scaled to length weight, to out and resets it.
func (g *group) flush(out []float32, weight float32) {
	var ss float64
	for _, b := range g.touched {
		ss += float64(g.vals[b]) * float64(g.vals[b])
	}
	if ss > minNorm {
		s := weight / float32(math.Sqrt(ss))
		for _, b := range g.touched {
			out[b] += s * g.vals[b]
		}
	}
	g.touched = g.touched[:0]
	g.epoch++
	if g.epoch == 0 { // wrapped: old stamps could match again
		clear(g.stamp)
		g.epoch = 1
	}
}

// normalize scales v to unit length; a zero vector stays zero.
func normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss <= minNorm {
		return
	}
	s := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= s
	}
}

// fnv is a running 64-bit FNV-1a hash.
type fnv uint64

// hashOf starts the hash of a feature of the given kind.
func hashOf(kind string) fnv { return fnv(featurehash.Offset).str(kind).byte(0x1f) }

func (h fnv) str(s string) fnv   { return fnv(featurehash.String(uint64(h), s)) }
func (h fnv) bytes(b []byte) fnv { return fnv(featurehash.Bytes(uint64(h), b)) }
func (h fnv) byte(c byte) fnv    { return fnv(featurehash.Byte(uint64(h), c)) }

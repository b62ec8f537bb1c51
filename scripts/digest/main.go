// Command digest prints one line per regular file under a folder, "sha256  path"
// (the path relative to the folder, with slashes), sorted by path, so that two
// output folders can be compared with diff. scripts/samebytes.sh uses it.
//
// Most files are hashed as they are. A few things in JSON files are wall-clock
// by nature (timings, timestamps, durations); the caller names their keys, and
// the value of each member with such a key, at any depth, is replaced by
// "<dropped>" before hashing. Nothing else of the file changes: the key stays
// (a key that appears or disappears still changes the digest), and the order
// of members, the white space and every other byte are hashed as they are.
// A .json file is one JSON value; a .jsonl or .ndjson file is one per line. A
// JSON file that does not parse is hashed as it is.
//
//	digest [-drop KEYS] [-drop-in GLOB:KEYS]... [-mask GLOB:REGEXP]... DIR
//
// -drop drops KEYS (comma-separated) in every JSON file; -drop-in only in the
// JSON files that GLOB matches; -mask replaces every match of REGEXP by
// "<masked>" in the files that GLOB matches (any kind of file, before the JSON
// keys are dropped). GLOB (path.Match) matches a file when it matches its
// path or a tail of it: "run.json" matches every run.json, "jobs/*.json"
// every .json file in a folder named jobs. -explain lists on standard error
// what was dropped or masked in each file.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// dropped replaces the value of a dropped member; masked replaces a match of
// a mask.
const (
	dropped = `"<dropped>"`
	masked  = "<masked>"
)

// Rules say what is normalised before hashing.
type Rules struct {
	Drop   map[string]bool   // keys dropped in every JSON file
	DropIn []FileKeys        // keys dropped in some JSON files
	Masks  []FileMask        // text masked in some files
	Notes  func(note string) // if set, told what was dropped or masked
}

// FileKeys are keys dropped in the JSON files that Glob matches (see matches).
type FileKeys struct {
	Glob string
	Keys map[string]bool
}

// FileMask is a pattern masked in the files that Glob matches (see matches).
type FileMask struct {
	Glob string
	Re   *regexp.Regexp
}

// Line is one file's digest.
type Line struct {
	Sum  string
	Path string
}

func (l Line) String() string { return l.Sum + "  " + l.Path }

func main() {
	var (
		drop    string
		dropIn  multi
		masks   multi
		explain bool
	)
	flag.StringVar(&drop, "drop", "", "JSON `keys` (comma-separated) whose values are dropped in every JSON file")
	flag.Var(&dropIn, "drop-in", "`glob:keys`: JSON keys dropped in the files that glob matches, their path or a tail of it (repeatable)")
	flag.Var(&masks, "mask", "`glob:regexp`: matches masked in the files that glob matches, their path or a tail of it (repeatable)")
	flag.BoolVar(&explain, "explain", false, "list on standard error what was dropped or masked in each file")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: digest [flags] DIR\n\nPrints \"sha256  path\" for every regular file under DIR, sorted by path.\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	rules, err := parseRules(drop, dropIn, masks)
	if err != nil {
		fmt.Fprintln(os.Stderr, "digest:", err)
		os.Exit(2)
	}
	if explain {
		rules.Notes = func(note string) { fmt.Fprintln(os.Stderr, note) }
	}
	lines, err := Dir(flag.Arg(0), rules)
	if err != nil {
		fmt.Fprintln(os.Stderr, "digest:", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "digest:", err)
		os.Exit(1)
	}
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, " ") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func keySet(list string) map[string]bool {
	set := map[string]bool{}
	for k := range strings.SplitSeq(list, ",") {
		if k = strings.TrimSpace(k); k != "" {
			set[k] = true
		}
	}
	return set
}

func parseRules(drop string, dropIn, masks []string) (Rules, error) {
	r := Rules{Drop: keySet(drop)}
	for _, s := range dropIn {
		glob, keys, ok := strings.Cut(s, ":")
		if _, err := path.Match(glob, ""); !ok || glob == "" || err != nil {
			return r, fmt.Errorf("-drop-in %q: want glob:keys", s)
		}
		r.DropIn = append(r.DropIn, FileKeys{Glob: glob, Keys: keySet(keys)})
	}
	for _, s := range masks {
		glob, expr, ok := strings.Cut(s, ":")
		if _, err := path.Match(glob, ""); !ok || glob == "" || err != nil {
			return r, fmt.Errorf("-mask %q: want glob:regexp", s)
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return r, fmt.Errorf("-mask %q: %v", s, err)
		}
		r.Masks = append(r.Masks, FileMask{Glob: glob, Re: re})
	}
	return r, nil
}

// Dir digests every regular file under dir, sorted by relative path.
func Dir(dir string, r Rules) ([]Line, error) {
	var lines []Line
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		sum, err := File(p, rel, r)
		if err != nil {
			return err
		}
		lines = append(lines, Line{Sum: sum, Path: rel})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].Path < lines[j].Path })
	return lines, nil
}

// File digests the file at p, known as rel in notes and rules.
func File(p, rel string, r Rules) (string, error) {
	keys := r.keysFor(rel)
	masks := r.masksFor(rel)
	kind := jsonKind(path.Base(rel))
	h := sha256.New()
	if len(masks) == 0 && (kind == notJSON || len(keys) == 0) {
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		defer f.Close()
		if _, err := io.Copy(h, f); err != nil {
			return "", fmt.Errorf("%s: %w", rel, err)
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	n := &noter{rel: rel, notes: r.Notes}
	h.Write(Normalize(b, kind, keys, masks, n))
	n.flush()
	return hex.EncodeToString(h.Sum(nil)), nil
}

// matches says whether glob matches the slash-separated path rel or a tail of
// it: rel without some of its first components.
func matches(glob, rel string) bool {
	for {
		if ok, _ := path.Match(glob, rel); ok {
			return true
		}
		_, tail, found := strings.Cut(rel, "/")
		if !found {
			return false
		}
		rel = tail
	}
}

func (r Rules) keysFor(rel string) map[string]bool {
	keys := map[string]bool{}
	for k := range r.Drop {
		keys[k] = true
	}
	for _, fk := range r.DropIn {
		if matches(fk.Glob, rel) {
			for k := range fk.Keys {
				keys[k] = true
			}
		}
	}
	return keys
}

func (r Rules) masksFor(rel string) []*regexp.Regexp {
	var res []*regexp.Regexp
	for _, m := range r.Masks {
		if matches(m.Glob, rel) {
			res = append(res, m.Re)
		}
	}
	return res
}

// kind is how a file holds JSON.
type kind int

const (
	notJSON  kind = iota
	oneValue      // .json
	perLine       // .jsonl, .ndjson
)

func jsonKind(base string) kind {
	switch strings.ToLower(path.Ext(base)) {
	case ".json":
		return oneValue
	case ".jsonl", ".ndjson":
		return perLine
	}
	return notJSON
}

// noter collects what was dropped or masked in one file.
type noter struct {
	rel    string
	notes  func(string)
	counts map[string]int
	order  []string
}

func (n *noter) add(what string) {
	if n == nil || n.notes == nil {
		return
	}
	if n.counts == nil {
		n.counts = map[string]int{}
	}
	if n.counts[what] == 0 {
		n.order = append(n.order, what)
	}
	n.counts[what]++
}

func (n *noter) flush() {
	if n == nil || n.notes == nil || len(n.order) == 0 {
		return
	}
	parts := make([]string, len(n.order))
	for i, w := range n.order {
		parts[i] = fmt.Sprintf("%s x%d", w, n.counts[w])
	}
	n.notes(n.rel + ": " + strings.Join(parts, ", "))
}

// Normalize returns b with the masks applied and, in JSON, the values of the
// keys dropped.
func Normalize(b []byte, k kind, keys map[string]bool, masks []*regexp.Regexp, n *noter) []byte {
	for _, re := range masks {
		b = re.ReplaceAllFunc(b, func(m []byte) []byte {
			n.add("masked " + re.String())
			return []byte(masked)
		})
	}
	if len(keys) == 0 {
		return b
	}
	switch k {
	case oneValue:
		return dropKeys(b, keys, n)
	case perLine:
		var out bytes.Buffer
		for len(b) > 0 {
			line, rest, found := bytes.Cut(b, []byte("\n"))
			out.Write(dropKeys(line, keys, n))
			if found {
				out.WriteByte('\n')
			}
			b = rest
		}
		return out.Bytes()
	}
	return b
}

// dropKeys replaces, in the JSON value b, the value of every object member
// whose key is in keys by "<dropped>". b is returned as it is when it is not
// valid JSON.
func dropKeys(b []byte, keys map[string]bool, n *noter) []byte {
	if len(bytes.TrimSpace(b)) == 0 || !json.Valid(b) {
		return b
	}
	s := &scanner{b: b, keys: keys, n: n}
	if err := s.value(); err != nil {
		return b // cannot happen with valid JSON
	}
	if len(s.spans) == 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	last := 0
	for _, sp := range s.spans {
		out = append(out, b[last:sp.start]...)
		out = append(out, dropped...)
		last = sp.end
	}
	return append(out, b[last:]...)
}

// span is a byte range [start, end).
type span struct{ start, end int }

// scanner walks a valid JSON value and records the spans of the values to
// drop, in order, none inside another.
type scanner struct {
	b     []byte
	i     int
	keys  map[string]bool
	spans []span
	n     *noter
}

var errSyntax = errors.New("not JSON")

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) expect(c byte) error {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != c {
		return errSyntax
	}
	s.i++
	return nil
}

func (s *scanner) value() error {
	s.ws()
	if s.i >= len(s.b) {
		return errSyntax
	}
	switch s.b[s.i] {
	case '{':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == '}' {
			s.i++
			return nil
		}
		for {
			s.ws()
			ks := s.i
			if err := s.str(); err != nil {
				return err
			}
			var key string
			if err := json.Unmarshal(s.b[ks:s.i], &key); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			s.ws()
			vs := s.i
			if err := s.value(); err != nil {
				return err
			}
			if s.keys[key] {
				// The whole value goes: forget what was dropped inside it.
				for len(s.spans) > 0 && s.spans[len(s.spans)-1].start >= vs {
					s.spans = s.spans[:len(s.spans)-1]
				}
				s.spans = append(s.spans, span{vs, s.i})
				s.n.add("dropped " + key)
			}
			s.ws()
			if s.i < len(s.b) && s.b[s.i] == ',' {
				s.i++
				continue
			}
			return s.expect('}')
		}
	case '[':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.value(); err != nil {
				return err
			}
			s.ws()
			if s.i < len(s.b) && s.b[s.i] == ',' {
				s.i++
				continue
			}
			return s.expect(']')
		}
	case '"':
		return s.str()
	default: // number, true, false, null
		start := s.i
		for s.i < len(s.b) && !strings.ContainsRune(",]} \t\n\r", rune(s.b[s.i])) {
			s.i++
		}
		if s.i == start {
			return errSyntax
		}
		return nil
	}
}

// str skips a string, its quotes included.
func (s *scanner) str() error {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return errSyntax
	}
	for s.i++; s.i < len(s.b); s.i++ {
		switch s.b[s.i] {
		case '\\':
			s.i++
		case '"':
			s.i++
			return nil
		}
	}
	return errSyntax
}

package e2e

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/workflows"
)

// hugeBytes is the size of the huge document's text: one JSONL record of
// about 50 MB, under the reader's default 64 MiB cap on a line.
const hugeBytes = 50 << 20

// A 50 MB record and a small one go through the whole job with the rules
// backend: both are annotated, nothing fails, and every mention of the huge
// one lies on its text. Stages that compare every span with every other
// would take hours here; the job must take seconds.
func TestHugeDocument(t *testing.T) {
	if testing.Short() {
		t.Skip("annotates a 50 MB document")
	}
	huge, planted := hugeProse(hugeBytes)
	small := pipeline.Document{ID: "small", Text: "Angela Merkel met Emmanuel Macron in Berlin before the 2017 German federal election."}

	store, root := localStore(t)
	corpus := blob.Join(root, "corpus") + "/"
	put(t, store, corpus+"huge.jsonl", jsonl([2]string{"huge", huge}, [2]string{small.ID, small.Text}))
	schema := blob.Join(root, "politics.yaml")
	put(t, store, schema, schemaFile(t))
	h := newHarness(t, store, nil)

	peak := watchMemory(100 * time.Millisecond)
	start := time.Now()
	sum := h.run(t, workflows.CorpusState{Config: activities.Config{
		Job: "huge", Corpus: corpus, Schema: schema, Output: blob.Join(root, "out"),
		Backend: activities.BackendSpec{Name: "rules"}, ShardSize: 1000, Window: 2,
	}})
	took := time.Since(start)
	heap, sys := peak()
	t.Logf("%d MB document: job took %s; peak Go heap %d MiB, peak memory from the OS %d MiB (the test's own copies of the text included)",
		len(huge)>>20, took.Round(time.Millisecond), heap>>20, sys>>20)
	// About 40 s on an idle 2-core machine. The bound leaves room for a
	// busy one: quadratic work took over ten minutes here.
	if took > 2*time.Minute {
		t.Errorf("job took %s: want well under a minute", took)
	}

	if sum.Docs != 2 || sum.Failures != 0 || sum.Rejects != 0 || sum.Pending != 0 ||
		len(sum.FailedShards) != 0 || len(sum.Problems) != 0 || sum.Stopped != "" {
		t.Fatalf("job: %d documents, %d failures, %d rejects, %d pending, failed shards %v, problems %v, stopped %q; want 2 documents and nothing else",
			sum.Docs, sum.Failures, sum.Rejects, sum.Pending, sum.FailedShards, sum.Problems, sum.Stopped)
	}
	ms := mentions(t, store, sum.Outputs.Mentions)
	if int64(len(ms)) != sum.Mentions {
		t.Errorf("mentions table has %d rows, summary says %d", len(ms), sum.Mentions)
	}
	hugeMs := make([]table.Mention, 0, len(ms))
	var smallMs []table.Mention
	for _, m := range ms {
		switch m.DocID {
		case "huge":
			hugeMs = append(hugeMs, m)
		case small.ID:
			smallMs = append(smallMs, m)
		default:
			t.Fatalf("mention of unknown document %q", m.DocID)
		}
	}

	if len(smallMs) == 0 {
		t.Error("no mention in the small document")
	}
	small.Source = corpus + "huge.jsonl"
	diffMentions(t, smallMs, expected(t, sum.RunID, schemaFile(t), []pipeline.Document{small}))

	// About one mention per name the generator wrote.
	t.Logf("%d mentions in the huge document, %d names written into it", len(hugeMs), planted)
	if n := len(hugeMs); n < planted*7/10 || n > planted*13/10 {
		t.Errorf("%d mentions in the huge document, want about the %d names written into it", n, planted)
	}
	checkOffsets(t, huge, hugeMs)
	if len(hugeMs) > 0 && (sum.Graph.Entities == 0 || sum.Graph.Mentions != sum.Mentions) {
		t.Errorf("graph %+v: want entities, and every one of %d mentions linked", sum.Graph, sum.Mentions)
	}
}

// checkOffsets checks that mentions, sorted by start, are non-overlapping
// half-open code point ranges of s whose text is the slice. It walks s once:
// converting every offset from the start would be quadratic.
func checkOffsets(t *testing.T, s string, ms []table.Mention) {
	t.Helper()
	pos, runes := 0, 0 // a byte offset of s and the code points before it
	seek := func(r int64) int {
		for int64(runes) < r && pos < len(s) {
			_, w := utf8.DecodeRuneInString(s[pos:])
			pos += w
			runes++
		}
		return pos
	}
	total := int64(utf8.RuneCountInString(s))
	prevEnd := int64(0)
	for i, m := range ms {
		if m.Start < prevEnd || m.End <= m.Start || m.End > total {
			t.Fatalf("mention %d %q at [%d, %d): not after the previous one (ending at %d) or not inside a text of %d code points",
				i, m.Text, m.Start, m.End, prevEnd, total)
		}
		a := seek(m.Start)
		b := seek(m.End)
		if got := s[a:b]; got != m.Text {
			t.Fatalf("mention %d %q at [%d, %d): the text there is %q", i, m.Text, m.Start, m.End, got)
		}
		prevEnd = m.End
	}
}

// watchMemory samples the Go runtime's memory until the returned function is
// called, which returns the peak heap in use and the peak memory obtained
// from the OS.
func watchMemory(every time.Duration) func() (heap, sys uint64) {
	var (
		mu        sync.Mutex
		heap, sys uint64
		done      = make(chan struct{})
		wg        sync.WaitGroup
	)
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		heap, sys = max(heap, m.HeapInuse), max(sys, m.Sys-m.HeapReleased)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		wg.Wait()
		sample()
		return heap, sys
	}
}

// hugeProse returns about size bytes of English news prose, the same on
// every call: sentences about politicians, parties and places, with
// abbreviations, quotes, questions, accented names, and lines and
// paragraphs. It also returns how many names it wrote.
func hugeProse(size int) (string, int) {
	r := rand.New(rand.NewPCG(50, 2))
	syl := strings.Fields("ka ber lin mo ta ros vel an dre gor su mi har ten bal do ric nes win fel")
	given := strings.Fields("Angela Barack Emmanuel Olaf Boris Theresa Helmut Gerhard Jacques Nicolas Margaret Tony Gordon David Justin Jean Giorgia Mario Silvio Pedro Mariano Joe Kamala Bernie Nancy Zoë Søren")
	surnames := strings.Fields("Merkel Obama Macron Scholz Johnson Kohl Schröder Chirac Sarkozy Thatcher Blair Cameron Trudeau Chrétien Meloni Draghi Berlusconi Sánchez Rajoy Biden Harris Sanders Pelosi")
	for range 400 { // invented surnames, so that the graph has many entities
		var b strings.Builder
		for k := range 2 + r.IntN(2) {
			s := syl[r.IntN(len(syl))]
			if k == 0 {
				s = strings.ToUpper(s[:1]) + s[1:]
			}
			b.WriteString(s)
		}
		surnames = append(surnames, b.String())
	}
	parties := []string{"Christian Democratic Union", "Social Democratic Party", "Labour Party", "Conservative Party",
		"Liberal Party of Canada", "Democratic Party", "Republican Party", "Green Party", "Forza Italia", "Bloc Québécois"}
	places := strings.Fields("Berlin Paris London Ottawa Rome Madrid Washington Bonn Munich Hamburg Lyon Toronto Montreal Milan Naples Barcelona Chicago Boston Zürich Vienna Brussels Kraków")
	countries := strings.Fields("Germany France Britain Canada Italy Spain Austria Belgium Switzerland Poland")
	verbs := strings.Fields("met criticised praised defeated endorsed succeeded opposed visited")
	asides := []string{"after a long debate", "according to reports", "in a televised address", "during the campaign",
		"before the vote", "despite strong opposition", "at a press conference"}

	pick := func(s []string) string { return s[r.IntN(len(s))] }
	names := 0
	name := func(s []string) string { names++; return pick(s) }
	person := func() string {
		names++
		if r.IntN(5) == 0 {
			return "Dr. " + pick(surnames)
		}
		return pick(given) + " " + pick(surnames)
	}
	var b strings.Builder
	b.Grow(size + 512)
	for b.Len() < size {
		switch r.IntN(7) {
		case 0:
			fmt.Fprintf(&b, "%s %s %s in %s %s.", person(), pick(verbs), person(), name(places), pick(asides))
		case 1:
			fmt.Fprintf(&b, "The %s won the election of %d, and %s became its leader.", name(parties), 1950+r.IntN(75), person())
		case 2:
			fmt.Fprintf(&b, "In %s, members of the %s said that %s had “no plan” for %s.", name(places), name(parties), person(), name(countries))
		case 3:
			fmt.Fprintf(&b, "%s, a former mayor of %s, joined the %s in %d.", person(), name(places), name(parties), 1950+r.IntN(75))
		case 4:
			fmt.Fprintf(&b, "Why did %s leave %s? Nobody in %s knew!", person(), name(places), name(countries))
		case 5:
			fmt.Fprintf(&b, "%s — who had led the %s since %d — resigned.", person(), name(parties), 1950+r.IntN(75))
		default:
			fmt.Fprintf(&b, "It rained for %d days, and the markets were quiet.", 2+r.IntN(9))
		}
		switch r.IntN(10) {
		case 0:
			b.WriteString("\n\n")
		case 1:
			b.WriteString("\n")
		default:
			b.WriteString(" ")
		}
	}
	return b.String(), names
}

// Command annbench measures the vector indexes of package vecindex on
// seeded random unit vectors (normalised Gaussians: uniform on the sphere,
// the hardest case for approximate search): build rate, single-query
// latency of exact and approximate search, recall@k of approximate against
// exact, batch throughput of exact search, Go heap in use and peak RSS. It
// prints a Markdown table.
//
//	go run ./scripts/annbench -n 1000000 -dim 256 -queries 1000 -k 10
//
// With -hnsw N it also builds github.com/coder/hnsw over the first N
// vectors and reports its recall against exact search over the same N.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"log"
	"math"
	mrand "math/rand"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/hnsw"

	"github.com/zeroner/zeroner/pipeline/vecindex"
)

func main() {
	n := flag.Int("n", 1_000_000, "vectors indexed")
	dim := flag.Int("dim", 256, "dimension")
	nq := flag.Int("queries", 1000, "queries, drawn apart from the vectors")
	k := flag.Int("k", 10, "results per query")
	shards := flag.Int("shards", 16, "shards the exact index holds the vectors in")
	seed := flag.Uint64("seed", 1, "seed of the vectors, queries and sketches")
	bits := flag.Int("bits", 0, "approx: sketch bits (0: default)")
	rerank := flag.Int("rerank", 0, "approx: candidates rescored (0: default)")
	sweep := flag.String("sweep", "1000,5000", "approx: other rerank values to measure, comma-separated")
	hnswN := flag.Int("hnsw", 0, "also build coder/hnsw over the first `N` vectors (0: skip)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the approximate searches to `file`")
	flag.Parse()
	if *n <= 0 || *dim <= 0 || *nq <= 0 || *k <= 0 || *shards <= 0 {
		log.Fatal("annbench: -n, -dim, -queries, -k and -shards must be positive")
	}
	reranks := parseSweep(*sweep)

	heap0 := heapInUse()
	start := time.Now()
	ids := make([]int64, *n)
	for i := range ids {
		ids[i] = int64(i)
	}
	flat := randUnit(*seed, *n, *dim)
	queries := rows(randUnit(*seed+1, *nq, *dim), *dim)
	log.Printf("generated %d x %d vectors and %d queries in %v", *n, *dim, *nq, time.Since(start).Round(time.Millisecond))

	var tab table
	heapData := heapInUse() - heap0 // the vectors, their ids and the queries

	start = time.Now()
	exact := buildExact(ids, flat, *dim, *shards)
	exactBuild := time.Since(start)
	heapExact := heapInUse()

	start = time.Now()
	approx, err := vecindex.BuildApprox(ids, flat, *dim, vecindex.ApproxOptions{Bits: *bits, Rerank: *rerank, Seed: *seed})
	if err != nil {
		log.Fatal(err)
	}
	approxBuild := time.Since(start)
	heapApprox := heapInUse()
	log.Printf("built approx index %+v in %v", approx.Options(), approxBuild.Round(time.Millisecond))

	truth := make(map[*float32][]vecindex.Hit, len(queries))
	exactLat := timeQueries(queries, func(q []float32) { truth[&q[0]] = exact.Search(q, *k) })
	ref := memo{exact, truth}
	// Exact has no build to speak of: Add keeps the shards as they are.
	tab.add("exact, %d shards", []any{*shards}, 0, *n, exactLat, 1, fmt.Sprintf("%s (the vectors and ids)", mib(heapData)))
	log.Printf("exact: p50 %v", pct(exactLat, 50))

	start = time.Now()
	batch := exact.SearchBatch(queries, *k)
	batchTime := time.Since(start)
	for i, q := range queries {
		if !slices.Equal(batch[i], truth[&q[0]]) {
			log.Fatalf("annbench: SearchBatch differs from Search on query %d", i)
		}
	}
	tab.batch = batchTime / time.Duration(len(queries))

	if *cpuprofile != "" {
		startProfile(*cpuprofile)
	}
	sketches := fmt.Sprintf("+%s (sketches; shares the vectors)", mib(heapApprox-heapExact))
	measureApprox(&tab, approx, ref, queries, *k, reranks, approxBuild, sketches)

	pprof.StopCPUProfile()
	hwm := vmHWM()

	if *hnswN > 0 {
		m := min(*hnswN, *n)
		tab.hnswNote = benchHNSW(&tab, ids[:m], flat[:m**dim], *dim, queries, *k, *seed)
	}

	printReport(&tab, *n, *dim, *k, len(queries), *shards, exactBuild, heapApprox, hwm)
}

// measureApprox adds a row per rerank value: the approximate index's
// latency and recall against exact search.
func measureApprox(tab *table, approx *vecindex.Approx, ref memo, queries [][]float32, k int, reranks []int, build time.Duration, memory string) {
	opt := approx.Options()
	for _, rr := range append([]int{opt.Rerank}, reranks...) {
		a := approx.WithRerank(rr)
		lat := timeQueries(queries, func(q []float32) { a.Search(q, k) })
		recall := vecindex.Recall(ref, a, queries, k)
		tab.add("approx, %d-bit sketches, rerank %d", []any{opt.Bits, rr}, build, approx.Len(), lat, recall, memory)
		log.Printf("approx rerank %d: p50 %v recall@%d %.4f", rr, pct(lat, 50), k, recall)
	}
}

// printReport prints the table and what it rests on.
func printReport(tab *table, n, dim, k, nq, shards int, exactBuild time.Duration, heap uint64, hwm string) {
	fmt.Printf("%d random unit vectors of dimension %d (normalised Gaussians), %d other random queries, k=%d; "+
		"GOMAXPROCS %d, %s, %s.\n\n", n, dim, nq, k, runtime.GOMAXPROCS(0), cpuModel(), runtime.Version())
	tab.print(os.Stdout, k)
	fmt.Printf("\nExact SearchBatch of all %d queries: %v per query (results identical to Search).\n", nq, tab.batch.Round(time.Microsecond))
	fmt.Printf("Exact search has no build: Add keeps the shards as they are (%v for %d shards). "+
		"Go heap in use after both builds: %s. Peak RSS (VmHWM): %s after the exact and approx measurements",
		exactBuild.Round(time.Microsecond), shards, mib(heap), hwm)
	if tab.hnswNote != "" {
		fmt.Printf(", %s at the end", vmHWM())
	}
	fmt.Println(".")
	if tab.hnswNote != "" {
		fmt.Println(tab.hnswNote)
	}
}

// parseSweep parses -sweep's rerank values.
func parseSweep(sweep string) []int {
	var reranks []int
	for _, s := range strings.Split(sweep, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		r, err := strconv.Atoi(s)
		if err != nil || r <= 0 {
			log.Fatalf("annbench: -sweep: bad rerank %q", s)
		}
		reranks = append(reranks, r)
	}
	return reranks
}

// buildExact holds the vectors in an exact index of the given shards.
func buildExact(ids []int64, flat []float32, dim, shards int) *vecindex.Exact {
	n := len(ids)
	exact := vecindex.NewExact(dim)
	for s := range shards {
		lo, hi := n*s/shards, n*(s+1)/shards
		if err := exact.Add(ids[lo:hi], flat[lo*dim:hi*dim]); err != nil {
			log.Fatal(err)
		}
	}
	return exact
}

// startProfile starts a CPU profile into the file at path.
func startProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Fatal(err)
	}
}

// benchHNSW builds coder/hnsw over the given vectors and adds its row.
func benchHNSW(tab *table, ids []int64, flat []float32, dim int, queries [][]float32, k int, seed uint64) string {
	const m, ef = 16, 100
	g := hnsw.NewGraph[int64]()
	g.M, g.EfSearch = m, ef
	g.Distance = hnsw.CosineDistance
	g.Rng = mrand.New(mrand.NewSource(int64(seed)))
	heap0 := heapInUse()
	start := time.Now()
	for i, id := range ids {
		g.Add(hnsw.MakeNode(id, flat[i*dim:(i+1)*dim]))
	}
	build := time.Since(start)
	heap := heapInUse() - heap0
	sub := vecindex.NewExact(dim)
	if err := sub.Add(ids, flat); err != nil {
		log.Fatal(err)
	}
	s := hnswSearcher{g}
	lat := timeQueries(queries, func(q []float32) { s.Search(q, k) })
	recall := vecindex.Recall(sub, s, queries, k)
	tab.add("coder/hnsw v0.6.1, M %d, EfSearch %d (first %d vectors)", []any{m, ef, len(ids)}, build, len(ids), lat, recall,
		fmt.Sprintf("+%s (graph; shares the vectors)", mib(heap)))
	log.Printf("coder/hnsw over %d: build %v recall@%d %.4f", len(ids), build, k, recall)
	return fmt.Sprintf("coder/hnsw row: recall against exact search over the same %d vectors.", len(ids))
}

// hnswSearcher adapts a coder/hnsw graph: its results are rescored
// exactly and sorted as vecindex sorts them.
type hnswSearcher struct{ g *hnsw.Graph[int64] }

func (s hnswSearcher) Len() int { return s.g.Len() }

func (s hnswSearcher) Search(q []float32, k int) []vecindex.Hit {
	var hits []vecindex.Hit
	for _, nd := range s.g.Search(q, k) {
		var d float32
		for i, x := range nd.Value {
			d += x * q[i]
		}
		hits = append(hits, vecindex.Hit{ID: nd.Key, Score: d})
	}
	slices.SortFunc(hits, func(a, b vecindex.Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return hits
}

// memo answers the benchmark's queries from results already computed.
type memo struct {
	vecindex.Searcher
	hits map[*float32][]vecindex.Hit
}

func (m memo) Search(q []float32, k int) []vecindex.Hit {
	if h, ok := m.hits[&q[0]]; ok && len(h) >= min(k, m.Len()) {
		return h[:min(k, len(h))]
	}
	return m.Searcher.Search(q, k)
}

type row struct {
	name     string
	build    time.Duration
	n        int
	p50, p99 time.Duration
	recall   float64
	memory   string
}

type table struct {
	rows     []row
	batch    time.Duration
	hnswNote string
}

func (t *table) add(format string, args []any, build time.Duration, n int, lat []time.Duration, recall float64, memory string) {
	t.rows = append(t.rows, row{fmt.Sprintf(format, args...), build, n, pct(lat, 50), pct(lat, 99), recall, memory})
}

func (t *table) print(w *os.File, k int) {
	fmt.Fprintf(w, "| index | build | build rate (vectors/s) | query p50 | query p99 | recall@%d | Go heap |\n", k)
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, r := range t.rows {
		build, rate := "-", "-"
		if r.build >= time.Millisecond {
			build = r.build.Round(time.Millisecond).String()
			rate = fmt.Sprintf("%.0f", float64(r.n)/r.build.Seconds())
		}
		fmt.Fprintf(w, "| %s | %s | %s | %v | %v | %.4f | %s |\n", r.name, build, rate,
			r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.recall, r.memory)
	}
}

// timeQueries runs each query alone and returns the latencies.
func timeQueries(queries [][]float32, search func([]float32)) []time.Duration {
	lat := make([]time.Duration, len(queries))
	for i, q := range queries {
		start := time.Now()
		search(q)
		lat[i] = time.Since(start)
	}
	return lat
}

// pct is the p-th percentile, nearest rank.
func pct(lat []time.Duration, p int) time.Duration {
	s := slices.Clone(lat)
	slices.Sort(s)
	i := (len(s)*p+99)/100 - 1
	return s[max(0, min(i, len(s)-1))]
}

// randUnit returns n seeded random unit vectors of dim, generated in
// parallel from per-block seeds so that the data do not depend on the
// number of cores.
func randUnit(seed uint64, n, dim int) []float32 {
	flat := make([]float32, n*dim)
	const block = 4096
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for lo := 0; lo < n; lo += block {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r := rand.New(rand.NewPCG(seed, uint64(lo)))
			for i := lo; i < min(lo+block, n); i++ {
				v := flat[i*dim : (i+1)*dim]
				var s float64
				for j := range v {
					x := r.NormFloat64()
					v[j] = float32(x)
					s += x * x
				}
				inv := 1 / math.Sqrt(s)
				for j := range v {
					v[j] = float32(float64(v[j]) * inv)
				}
			}
		})
	}
	wg.Wait()
	return flat
}

func rows(flat []float32, dim int) [][]float32 {
	out := make([][]float32, len(flat)/dim)
	for i := range out {
		out[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return out
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// vmHWM is the process's peak resident set size, from /proc/self/status.
func vmHWM() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v) // "123456 kB"
			if len(f) != 2 {
				break
			}
			if kb, err := strconv.ParseUint(f[0], 10, 64); err == nil {
				return mib(kb << 10)
			}
		}
	}
	return "unknown"
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}

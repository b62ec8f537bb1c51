package vecindex

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkDot(b *testing.B) {
	for _, dim := range []int{64, 256, 500, 1024} {
		r := rand.New(rand.NewPCG(1, 2))
		const n = 4096
		flat := randUnit(r, n, dim)
		q := randUnit(r, 1, dim)
		for _, f := range []struct {
			name string
			fn   func(a, b []float32) float32
		}{{"go", dotGo}, {"chosen", dot}} {
			b.Run(fmt.Sprintf("%s/dim%d", f.name, dim), func(b *testing.B) {
				var sink float32
				for b.Loop() {
					for j := range n {
						sink += f.fn(q, flat[j*dim:(j+1)*dim])
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/dot")
			})
		}
	}
}

func benchData(n, dim, nq int) ([]int64, []float32, [][]float32) {
	r := rand.New(rand.NewPCG(11, 11))
	return seqIDs(n), randUnit(r, n, dim), rows(randUnit(r, nq, dim), dim)
}

func BenchmarkExact(b *testing.B) {
	const n, dim = 200_000, 256
	ids, flat, qs := benchData(n, dim, 64)
	e := NewExact(dim)
	for i := 0; i < n; i += n / 8 {
		if err := e.Add(ids[i:i+n/8], flat[i*dim:(i+n/8)*dim]); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Search", func(b *testing.B) {
		i := 0
		for b.Loop() {
			e.Search(qs[i%len(qs)], 10)
			i++
		}
	})
	b.Run("SearchBatch64", func(b *testing.B) {
		for b.Loop() {
			e.SearchBatch(qs, 10)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(qs)), "ns/query")
	})
}

func BenchmarkApprox(b *testing.B) {
	const n, dim = 200_000, 256
	ids, flat, qs := benchData(n, dim, 64)
	b.Run("Build", func(b *testing.B) {
		for b.Loop() {
			if _, err := BuildApprox(ids, flat, dim, ApproxOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "vectors/s")
	})
	a, err := BuildApprox(ids, flat, dim, ApproxOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, rr := range []int{1000, 3000} {
		b.Run(fmt.Sprintf("Search/rerank%d", rr), func(b *testing.B) {
			a := a.WithRerank(rr)
			i := 0
			for b.Loop() {
				a.Search(qs[i%len(qs)], 10)
				i++
			}
		})
	}
}

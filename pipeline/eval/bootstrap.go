package eval

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Interval is a confidence interval of a score, in percent.
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// BootstrapF1 estimates confidence intervals of docs' Strict and Span F1 by
// the percentile bootstrap over documents: resamples times, len(docs)
// documents are drawn with replacement (seeded: the same arguments give the
// same intervals), their counts summed as Score sums them, and the central
// level (such as 0.95) of the F1s so found is the interval. Documents are
// taken as independent: when they come in correlated groups (a distill
// run's held-out shards), the interval is narrower than the truth.
func BootstrapF1(docs []Doc, resamples int, seed uint64, level float64) (strict, span Interval, err error) {
	if len(docs) == 0 || resamples < 1 || level <= 0 || level >= 1 {
		return Interval{}, Interval{}, fmt.Errorf("eval: bootstrap of %d documents, %d resamples at level %v", len(docs), resamples, level)
	}
	counts := make([][2]PRF, len(docs)) // per doc: strict, span
	for i, d := range docs {
		add(&counts[i][0], d.Gold, d.Pred, strictKey)
		add(&counts[i][1], d.Gold, d.Pred, spanKey)
	}
	r := rand.New(rand.NewPCG(seed, uint64(len(docs))))
	f1s := [2][]float64{make([]float64, resamples), make([]float64, resamples)}
	for b := range resamples {
		var sum [2]PRF
		for range docs {
			c := &counts[r.IntN(len(docs))]
			for k := range sum {
				sum[k].TP += c[k].TP
				sum[k].Pred += c[k].Pred
				sum[k].Gold += c[k].Gold
			}
		}
		for k := range sum {
			sum[k].finish()
			f1s[k][b] = sum[k].F1
		}
	}
	var out [2]Interval
	for k, fs := range f1s {
		slices.Sort(fs)
		tail := (1 - level) / 2
		out[k] = Interval{Lo: fs[int(tail*float64(resamples-1)+0.5)], Hi: fs[int((1-tail)*float64(resamples-1)+0.5)]}
	}
	return out[0], out[1], nil
}

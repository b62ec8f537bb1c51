package eval

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestBootstrapF1(t *testing.T) {
	// Documents of one gold span each; the prediction is right in 80% of
	// them, a wrong label in 10% (span right), nothing in 10%.
	r := rand.New(rand.NewPCG(1, 2))
	var docs []Doc
	for i := range 500 {
		d := Doc{ID: fmt.Sprint(i), Text: "Ada went to Paris", Gold: []Span{{12, 17, "location"}}}
		switch x := r.IntN(10); {
		case x < 8:
			d.Pred = []Span{{12, 17, "location"}}
		case x == 8:
			d.Pred = []Span{{12, 17, "person"}}
		}
		docs = append(docs, d)
	}
	res, err := Score("t", docs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	strict, span, err := BootstrapF1(docs, 1000, 7, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f1   float64
		ci   Interval
	}{{"strict", res.Strict.F1, strict}, {"span", res.Span.F1, span}} {
		if !(c.ci.Lo < c.f1 && c.f1 < c.ci.Hi) || c.ci.Hi-c.ci.Lo > 10 || c.ci.Hi-c.ci.Lo < 1 {
			t.Errorf("%s F1 %.1f: interval %+v, want a few points around it", c.name, c.f1, c.ci)
		}
	}
	again, _, _ := BootstrapF1(docs, 1000, 7, 0.95)
	if again != strict {
		t.Errorf("same seed: %+v then %+v", strict, again)
	}
	// All right: the interval is the point.
	for i := range docs {
		docs[i].Pred = docs[i].Gold
	}
	if s, _, _ := BootstrapF1(docs, 100, 1, 0.95); s != (Interval{100, 100}) {
		t.Errorf("perfect predictions: %+v", s)
	}
	if _, _, err := BootstrapF1(nil, 100, 1, 0.95); err == nil {
		t.Error("no documents: no error")
	}
}

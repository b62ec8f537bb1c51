package distill

import (
	"context"
	"fmt"
	"time"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"

	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
	"github.com/zeroner/zeroner/pipeline/eval"
	"github.com/zeroner/zeroner/pipeline/rules"
	"github.com/zeroner/zeroner/pipeline/sae"
	"github.com/zeroner/zeroner/pipeline/student"
)

// saeOptions are the estimator's settings in a distill run: the best on the
// CrossNER dev splits (scripts/saestudy, docs/RESULTS.md).
var saeOptions = sae.Options{Decode: sae.DecodeProduct, Alpha: 0.1, MinSupport: 1}

// studentOptions are the perceptron's settings in a distill run: the
// package's defaults (chosen on the CrossNER dev splits,
// scripts/studentstudy), a fixed seed, and the rules backend's lexicons.
func studentOptions() student.Options {
	var lex []student.Lexicon
	for _, l := range rules.Lexicons() {
		lex = append(lex, student.Lexicon(l))
	}
	return student.Options{Seed: 1, Lexicons: lex}
}

// Estimate trains the run's student on the sampled shards that are not
// held out (their calibrated mentions are the labels) and writes it to the
// run folder: the map as sae/map.parquet, the perceptron as
// student/model.bin. Training is single-threaded and seeded, so a repeated
// activity writes the same bytes.
func (a *Activities) Estimate(ctx context.Context, run activities.Run, s activities.Sample) (activities.EstimateStats, error) {
	stop := wire.Heartbeat(ctx, 5*time.Second)
	defer stop()
	var sample []sae.Labeled
	for shard := range s.Shards {
		if !s.Sampled(shard) || s.Holdout(shard) {
			continue
		}
		docs, byDoc, err := a.annotated(ctx, run, shard)
		if err != nil {
			return activities.EstimateStats{}, err
		}
		for _, d := range docs {
			l := sae.Labeled{Text: d.Text}
			for _, m := range byDoc[d.DocID] {
				l.Spans = append(l.Spans, sae.Span{Start: int(m.Start), End: int(m.End), Label: m.Label})
			}
			sample = append(sample, l)
		}
	}
	if len(sample) == 0 {
		return activities.EstimateStats{}, activities.BadInput(fmt.Errorf("run %s: no sampled documents to estimate from", run.ID))
	}
	if s.StudentName() == activities.StudentPerceptron {
		return a.train(ctx, run, sample)
	}
	m, err := sae.Estimate(ctx, sae.NewLocal(nil), sample, saeOptions)
	if err != nil {
		return activities.EstimateStats{}, fmt.Errorf("estimate %s: %w", run.ID, err)
	}
	es := m.Entries()
	rows := make([]table.FeatureType, len(es))
	for i, e := range es {
		rows[i] = table.FeatureType(e)
	}
	if err := a.deps.Store.Replace(ctx, runs.Dir(run).SAEMap(), runs.Rows(table.NewFeatureTypeWriter, rows)); err != nil {
		return activities.EstimateStats{}, err
	}
	return activities.EstimateStats{Student: activities.StudentMap, Docs: len(sample), Entries: len(rows)}, nil
}

// train trains the perceptron student on sample and writes its artefact.
func (a *Activities) train(ctx context.Context, run activities.Run, sample []sae.Labeled) (activities.EstimateStats, error) {
	examples := make([]student.Example, len(sample))
	for i, l := range sample {
		examples[i].Text = l.Text
		for _, sp := range l.Spans {
			examples[i].Spans = append(examples[i].Spans, student.Span(sp))
		}
	}
	start := time.Now()
	m, err := student.Train(ctx, examples, studentOptions())
	if err != nil {
		return activities.EstimateStats{}, fmt.Errorf("train the student of %s: %w", run.ID, err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return activities.EstimateStats{}, fmt.Errorf("encode the student of %s: %w", run.ID, err)
	}
	if err := a.deps.Store.Replace(ctx, runs.Dir(run).StudentModel(), blob.WriteBytes(b)); err != nil {
		return activities.EstimateStats{}, err
	}
	a.deps.Log.Info("trained the student", "run", run.ID, "docs", len(examples), "weights", m.Weights(),
		"bytes", len(b), "seconds", time.Since(start).Seconds())
	return activities.EstimateStats{Student: activities.StudentPerceptron, Docs: len(examples), Weights: m.Weights(), Bytes: len(b)}, nil
}

// Tag annotates a shard with the run's student: the CPU-speed tagger
// writes the shard's final stage output, as if the three stages had run.
func (a *Activities) Tag(ctx context.Context, t activities.TagTask) (activities.StageStats, error) {
	out := runs.Dir(t.Run).Stage(activities.StageCalibrate, t.Shard)
	if ms, err := a.deps.Store.Mentions(ctx, out); err == nil {
		return activities.StageStats{Mentions: len(ms)}, nil
	} else if !blob.IsNotExist(err) {
		return activities.StageStats{}, err
	}
	b, err := a.studentBackend(ctx, t.Run, t.StudentName())
	if err != nil {
		return activities.StageStats{}, err
	}
	rows, err := a.deps.Store.Documents(ctx, runs.Dir(t.Run).Documents(t.Shard))
	if err != nil {
		return activities.StageStats{}, err
	}
	ms, err := tagDocs(ctx, b, rows)
	if err != nil {
		return activities.StageStats{}, fmt.Errorf("tag shard %d: %w", t.Shard, err)
	}
	err = a.deps.Store.Create(ctx, out, runs.Rows(table.NewMentionWriter, runs.FromMentions(t.Run.ID, ms)))
	if err != nil && !blob.IsExist(err) {
		return activities.StageStats{}, err
	}
	return activities.StageStats{Docs: len(rows), Mentions: len(ms)}, nil
}

// Agree tags the held-out shards with the student, scores the tags against
// the configured backend's annotations, and writes the student's
// agreement.json.
func (a *Activities) Agree(ctx context.Context, run activities.Run, s activities.Sample) (activities.Agreement, error) {
	b, err := a.studentBackend(ctx, run, s.StudentName())
	if err != nil {
		return activities.Agreement{}, err
	}
	var scored []eval.Doc
	for shard := range s.Shards {
		if !s.Holdout(shard) {
			continue
		}
		docs, byDoc, err := a.annotated(ctx, run, shard)
		if err != nil {
			return activities.Agreement{}, err
		}
		tags, err := tagDocs(ctx, b, docs)
		if err != nil {
			return activities.Agreement{}, err
		}
		pred := make(map[string][]eval.Span)
		for _, m := range tags {
			pred[m.DocID] = append(pred[m.DocID], eval.Span{Start: m.Start, End: m.End, Label: m.Label})
		}
		for _, d := range docs {
			ed := eval.Doc{ID: d.DocID, Text: d.Text, Pred: pred[d.DocID]}
			for _, m := range byDoc[d.DocID] {
				ed.Gold = append(ed.Gold, eval.Span{Start: int(m.Start), End: int(m.End), Label: m.Label})
			}
			scored = append(scored, ed)
		}
	}
	var ag activities.Agreement
	if len(scored) > 0 {
		r, err := eval.Score(run.ID, scored, eval.Options{})
		if err != nil {
			return activities.Agreement{}, fmt.Errorf("agreement of %s: %w", run.ID, err)
		}
		strict, span, err := eval.BootstrapF1(scored, bootstrapResamples, 1, 0.95)
		if err != nil {
			return activities.Agreement{}, fmt.Errorf("agreement of %s: %w", run.ID, err)
		}
		ag = activities.Agreement{Docs: r.Docs, StrictF1: r.Strict.F1, SpanF1: r.Span.F1,
			StrictCI: &activities.Interval{Lo: strict.Lo, Hi: strict.Hi}, SpanCI: &activities.Interval{Lo: span.Lo, Hi: span.Hi}}
	}
	return ag, a.deps.Store.WriteJSON(ctx, runs.Dir(run).Agreement(s.StudentName()), ag)
}

// bootstrapResamples is how many resamples give the agreement's intervals:
// enough for the 2.5th and 97.5th percentiles to settle, cheap since a
// resample sums counts.
const bootstrapResamples = 2000

// annotated returns a shard's documents and its calibrated mentions by
// document.
func (a *Activities) annotated(ctx context.Context, run activities.Run, shard int) ([]table.Document, map[string][]table.Mention, error) {
	docs, err := a.deps.Store.Documents(ctx, runs.Dir(run).Documents(shard))
	if err != nil {
		return nil, nil, err
	}
	ms, err := a.deps.Store.Mentions(ctx, runs.Dir(run).Stage(activities.StageCalibrate, shard))
	if err != nil {
		return nil, nil, err
	}
	byDoc := make(map[string][]table.Mention)
	for _, m := range ms {
		byDoc[m.DocID] = append(byDoc[m.DocID], m)
	}
	return docs, byDoc, nil
}

// studentBackend returns the run's trained student as a backend, loaded
// once per run and worker: every tagged shard uses it.
func (a *Activities) studentBackend(ctx context.Context, run activities.Run, name string) (pipeline.Backend, error) {
	if name != activities.StudentPerceptron {
		return a.saeBackend(ctx, run)
	}
	uri := runs.Dir(run).StudentModel()
	return a.deps.Cached("student\x00"+uri, func() (pipeline.Backend, error) {
		data, err := blob.ReadAll(ctx, a.deps.Store, uri)
		if err != nil {
			return nil, err
		}
		m, err := student.Unmarshal(data)
		if err != nil {
			return nil, activities.BadInput(fmt.Errorf("student %s: %w", uri, err))
		}
		s, err := a.deps.Schema(ctx, run)
		if err != nil {
			return nil, err
		}
		return student.NewBackend(m, s), nil
	})
}

// saeBackend returns the run's estimated map as a backend, loaded once per
// run and worker: every tagged shard uses it.
func (a *Activities) saeBackend(ctx context.Context, run activities.Run) (pipeline.Backend, error) {
	return a.deps.Cached("sae\x00"+runs.Dir(run).SAEMap(), func() (pipeline.Backend, error) {
		rows, err := runs.ReadTable(ctx, a.deps.Store, runs.Dir(run).SAEMap(), table.ReadFeatureTypes)
		if err != nil {
			return nil, err
		}
		es := make([]sae.Entry, len(rows))
		for i, r := range rows {
			es[i] = sae.Entry(r)
		}
		m, err := sae.FromEntries(es, saeOptions)
		if err != nil {
			return nil, activities.BadInput(fmt.Errorf("map %s: %w", runs.Dir(run).SAEMap(), err))
		}
		s, err := a.deps.Schema(ctx, run)
		if err != nil {
			return nil, err
		}
		return sae.NewBackend(sae.NewTagger(m, sae.NewLocal(nil)), s), nil
	})
}

// tagDocs runs a backend's three stages over documents.
func tagDocs(ctx context.Context, b pipeline.Backend, rows []table.Document) ([]pipeline.Mention, error) {
	docs := runs.ToDocuments(rows)
	r, err := pipeline.Annotate(ctx, b, docs)
	if err != nil {
		return nil, err
	}
	return r.Mentions, pipeline.CheckMentions(docs, r.Mentions)
}

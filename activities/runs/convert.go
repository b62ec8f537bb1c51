package runs

import (
	"github.com/zeroner/zeroner/io/table"
	"github.com/zeroner/zeroner/pipeline"
)

// Conversions between the tables' rows and the pipeline's types.

// ToDocuments converts documents rows.
func ToDocuments(rows []table.Document) []pipeline.Document {
	docs := make([]pipeline.Document, len(rows))
	for i, r := range rows {
		docs[i] = pipeline.Document{ID: r.DocID, Text: r.Text, Source: r.Source}
	}
	return docs
}

// ToMentions converts mentions rows.
func ToMentions(rows []table.Mention) []pipeline.Mention {
	ms := make([]pipeline.Mention, len(rows))
	for i, r := range rows {
		ms[i] = pipeline.Mention{
			DocID: r.DocID, Start: int(r.Start), End: int(r.End), Text: r.Text,
			Archetype: pipeline.Archetype(r.Archetype), Label: r.Label, Score: r.Score,
			Extractors: r.Extractors,
		}
	}
	return ms
}

// FromMentions converts mentions to the rows of run.
func FromMentions(run string, ms []pipeline.Mention) []table.Mention {
	rows := make([]table.Mention, len(ms))
	for i, m := range ms {
		rows[i] = table.Mention{
			RunID: run, DocID: m.DocID, Start: int64(m.Start), End: int64(m.End), Text: m.Text,
			Archetype: string(m.Archetype), Label: m.Label, Score: m.Score, Extractors: m.Extractors,
		}
	}
	return rows
}

// SumUsage totals a ledger's rows.
func SumUsage(rows []table.Usage) pipeline.Usage {
	var u pipeline.Usage
	for _, r := range rows {
		u.Add(pipeline.Usage{Requests: r.Requests, CacheHits: r.CacheHits, PromptTokens: r.PromptTokens,
			CompletionTokens: r.CompletionTokens, CachedTokens: r.CachedTokens,
			BatchRequests: r.BatchRequests, BatchTokens: r.BatchTokens})
	}
	return u
}

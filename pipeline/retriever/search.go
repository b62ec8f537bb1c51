package retriever

// Overfetch is how many mentions a search fetches per document it returns:
// the paper fetches 4×k mentions and keeps the first k distinct documents,
// since one document often has several mentions of a type.
const Overfetch = 4

// DocHits is a document found by a search, with its hits.
type DocHits struct {
	Doc string
	// Hits are the indexes, into the hits given to DistinctDocs, of the
	// document's hits, best first. Hits[0] is the best one: it ranks the
	// document and gives its score; the rest are for highlighting.
	Hits []int
}

// DistinctDocs turns mention hits, best first, into the first k distinct
// documents, in the order of their best hits, each with all of its hits
// among those given (also those after the k-th document's first). doc
// names a hit's document. k <= 0 gives no documents.
func DistinctDocs[H any](hits []H, doc func(H) string, k int) []DocHits {
	if k <= 0 {
		return nil
	}
	var out []DocHits
	at := map[string]int{}
	for i, h := range hits {
		d := doc(h)
		if j, ok := at[d]; ok {
			out[j].Hits = append(out[j].Hits, i)
			continue
		}
		if len(out) < k {
			at[d] = len(out)
			out = append(out, DocHits{Doc: d, Hits: []int{i}})
		}
	}
	return out
}

package llm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/zeroner/zeroner/io/blob"
)

// Cache stores valid answers under a content-addressed key (lowercase hex
// SHA-256 of the request), so a retried activity or a re-run pays nothing
// twice. Implementations must be safe for concurrent use.
type Cache interface {
	// Get returns the value stored under key; ok is false if there is none.
	Get(ctx context.Context, key string) (val []byte, ok bool, err error)
	// Put stores val under key. Putting a key that exists is not an error:
	// the same key always means the same request.
	Put(ctx context.Context, key string, val []byte) error
}

// BlobCache is a Cache in object storage: <prefix>/<key[:2]>/<key>.json.
type BlobCache struct {
	store  blob.Store
	prefix string
}

// NewBlobCache returns a Cache under prefix, a URI such as
// file:///data/cache/llm or gs://bucket/runs/x/llm-cache.
func NewBlobCache(store blob.Store, prefix string) *BlobCache {
	return &BlobCache{store: store, prefix: prefix}
}

func (c *BlobCache) uri(key string) (string, error) {
	if len(key) < 2 {
		return "", fmt.Errorf("llm cache: bad key %q", key)
	}
	for _, r := range key {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return "", fmt.Errorf("llm cache: bad key %q: want lowercase hex", key)
		}
	}
	return blob.Join(c.prefix, key[:2], key+".json"), nil
}

// Get implements Cache.
func (c *BlobCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	uri, err := c.uri(key)
	if err != nil {
		return nil, false, err
	}
	b, err := blob.ReadAll(ctx, c.store, uri)
	if blob.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("llm cache: %w", err)
	}
	return b, true, nil
}

// Put implements Cache. Create is atomic, so readers never see half an
// entry; an entry that exists already (a concurrent identical request) is
// success.
func (c *BlobCache) Put(ctx context.Context, key string, val []byte) error {
	uri, err := c.uri(key)
	if err != nil {
		return err
	}
	err = c.store.Create(ctx, uri, blob.WriteBytes(val))
	if err != nil && !blob.IsExist(err) {
		return fmt.Errorf("llm cache: %w", err)
	}
	return nil
}

// keyVersion changes when what a key covers or an entry holds changes, so
// old entries are not misread.
const keyVersion = "zeroner-llm-cache/1"

// cacheKey hashes everything that shapes an answer: the canonical JSON of
// model, messages, schema, schema name, mode and decoding parameters.
func cacheKey(p params) (string, error) {
	schema, err := canonical(p.schema)
	if err != nil {
		return "", fmt.Errorf("schema: %w", err)
	}
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	msgs := make([]message, len(p.messages))
	for i, m := range p.messages {
		msgs[i] = message{m.Role, m.Content}
	}
	b, err := json.Marshal(struct {
		Version     string          `json:"v"`
		Model       string          `json:"model"`
		Messages    []message       `json:"messages"`
		Schema      json.RawMessage `json:"schema"`
		SchemaName  string          `json:"schema_name"`
		Mode        string          `json:"mode"`
		Temperature float32         `json:"temperature"`
		TopP        float32         `json:"top_p"`
		MaxTokens   int             `json:"max_tokens"`
		LogProbs    bool            `json:"logprobs"`
	}{keyVersion, p.model, msgs, schema, p.schemaName, p.mode, p.temperature, p.topP, p.maxTokens, p.logProbs})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// canonical re-encodes JSON with sorted object keys and no insignificant
// space, keeping numbers as written, so equal schemas hash equally.
func canonical(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return json.RawMessage("null"), nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return json.Marshal(v)
}

// entry is what the cache holds for one valid answer, or for a request
// whose answer was cut off at the token limit (CutOff, no content).
type entry struct {
	Model    string         `json:"model"`
	Content  string         `json:"content"`
	CutOff   bool           `json:"cut_off,omitempty"`
	Usage    Usage          `json:"usage"` // what the answer cost when it was asked
	LogProbs []TokenLogProb `json:"logprobs,omitempty"`
}

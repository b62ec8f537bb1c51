package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"sync"

	"cloud.google.com/go/storage"
)

// Options configures a Mux.
type Options struct {
	// GCSEndpoint is the base URL of a Cloud Storage emulator, such as
	// http://127.0.0.1:4443. Empty means Cloud Storage itself, with
	// Google's default credentials.
	GCSEndpoint string
}

// Mux is a Store that routes file:// URIs to a File store and gs:// URIs to
// a GCS store. It rejects bare paths: pass them through Normalize first.
// A Mux is safe for concurrent use.
type Mux struct {
	ctx  context.Context
	opts Options
	file *File

	mu     sync.Mutex
	client *storage.Client // nil until a gs:// URI is used
	gcs    *GCS
}

// New returns a Mux. It creates the Cloud Storage client only when a gs://
// URI is first used, so local runs need no credentials. That client is
// made with ctx's values but not its cancellation, since it outlives the
// call that creates it. New fails only if opts are malformed.
func New(ctx context.Context, opts Options) (*Mux, error) {
	if e := opts.GCSEndpoint; e != "" {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("blob: Cloud Storage endpoint %q: want http://host:port or https://host:port", e)
		}
	}
	return &Mux{ctx: context.WithoutCancel(ctx), opts: opts, file: NewFile()}, nil
}

// Close releases the Cloud Storage client, if one was created.
func (m *Mux) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client == nil {
		return nil
	}
	err := m.client.Close()
	m.client, m.gcs = nil, nil
	return err
}

func (m *Mux) store(uri string) (Store, error) {
	switch {
	case strings.HasPrefix(uri, "file://"):
		return m.file, nil
	case strings.HasPrefix(uri, "gs://"):
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.gcs == nil {
			// Not cached on failure, so a later call can succeed once
			// credentials are in place.
			c, err := NewGCSClient(m.ctx, m.opts.GCSEndpoint)
			if err != nil {
				return nil, fmt.Errorf("cloud storage client: %w", err)
			}
			m.client, m.gcs = c, NewGCS(c)
		}
		return m.gcs, nil
	}
	return nil, errors.New("want a file:// or gs:// URI (Normalize turns paths into URIs)")
}

// List lists the store that prefix's scheme selects.
func (m *Mux) List(ctx context.Context, prefix string) ([]Object, error) {
	s, err := m.store(prefix)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	return s.List(ctx, prefix)
}

// Open opens uri in the store that its scheme selects.
func (m *Mux) Open(ctx context.Context, uri string) (io.ReadCloser, error) {
	s, err := m.store(uri)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", uri, err)
	}
	return s.Open(ctx, uri)
}

// OpenAt opens uri for random access in the store that its scheme selects.
func (m *Mux) OpenAt(ctx context.Context, uri string) (ReaderAt, error) {
	s, err := m.store(uri)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", uri, err)
	}
	return s.OpenAt(ctx, uri)
}

// Stat describes uri in the store that its scheme selects.
func (m *Mux) Stat(ctx context.Context, uri string) (Object, error) {
	s, err := m.store(uri)
	if err != nil {
		return Object{}, fmt.Errorf("stat %s: %w", uri, err)
	}
	return s.Stat(ctx, uri)
}

// Create creates uri in the store that its scheme selects.
func (m *Mux) Create(ctx context.Context, uri string, write func(io.Writer) error) error {
	s, err := m.store(uri)
	if err != nil {
		return fmt.Errorf("create %s: %w", uri, err)
	}
	return s.Create(ctx, uri, write)
}

// Replace replaces uri in the store that its scheme selects.
func (m *Mux) Replace(ctx context.Context, uri string, write func(io.Writer) error) error {
	s, err := m.store(uri)
	if err != nil {
		return fmt.Errorf("replace %s: %w", uri, err)
	}
	return s.Replace(ctx, uri, write)
}

// Delete deletes uri in the store that its scheme selects.
func (m *Mux) Delete(ctx context.Context, uri string) error {
	s, err := m.store(uri)
	if err != nil {
		return fmt.Errorf("delete %s: %w", uri, err)
	}
	return s.Delete(ctx, uri)
}

// Join joins path elements to a URI (or to a local path), cleaning the
// result like path.Join. Cleaning is rooted at the bucket (or "/"): ".."
// may climb above base but never out of its bucket. The result has no
// final slash, except for a root: Join("gs://b") is "gs://b/".
func Join(base string, elem ...string) string {
	root, p := "", base
	if i := strings.Index(base, "://"); i > 0 {
		// root is scheme://authority; p is the rest, rooted at "/".
		root, p = base, "/"
		if j := strings.Index(base[i+3:], "/"); j >= 0 {
			root, p = base[:i+3+j], base[i+3+j:]
		}
	}
	return root + path.Join(append([]string{p}, elem...)...)
}

// ErrOutside is returned by JoinUnder when the joined path would leave its
// base.
var ErrOutside = errors.New("path leaves its base")

// JoinUnder is Join for names that come from input (a job, run or stage
// name): it refuses, with an error wrapping ErrOutside, a result that is
// not base itself or under it, so "../x" or "a/../../x" cannot make a write
// land outside base. Absolute elements are fine: like Join, it appends
// them to base.
func JoinUnder(base string, elem ...string) (string, error) {
	root := Join(base)
	got := Join(base, elem...)
	if got == root || strings.HasPrefix(got, strings.TrimSuffix(root, "/")+"/") {
		return got, nil
	}
	return "", fmt.Errorf("blob: join %q to %s: %w", path.Join(elem...), base, ErrOutside)
}

// ReadAll returns the content of the object uri names.
func ReadAll(ctx context.Context, s Store, uri string) ([]byte, error) {
	r, err := s.Open(ctx, uri)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", uri, err)
	}
	return b, nil
}

// WriteBytes returns a write function for Create and Replace that writes b:
//
//	err := s.Create(ctx, uri, blob.WriteBytes(data))
func WriteBytes(b []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}
}

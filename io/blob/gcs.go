package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
)

// GCS is a Store of Cloud Storage objects, named by gs://bucket/key URIs.
// Keys are used verbatim (see the package comment).
type GCS struct {
	c *storage.Client
}

// NewGCS returns a store that uses c. The caller keeps ownership of c.
func NewGCS(c *storage.Client) *GCS { return &GCS{c: c} }

// NewGCSClient returns a Cloud Storage client. With an empty endpoint it
// uses Google's default credentials. Otherwise endpoint is the base URL of
// an emulator such as fake-gcs-server (say http://127.0.0.1:4443), used
// without authentication; reads then go over the JSON API, because
// emulators do not serve the XML API at arbitrary hosts.
//
// The client retries transient failures (a refused connection, a timeout,
// 429, 5xx) gcsAttempts times in all, then returns the error, so that an
// endpoint that is down fails the activity that needs it (which Temporal
// retries, visibly) rather than blocking it silently until its timeout.
func NewGCSClient(ctx context.Context, endpoint string) (*storage.Client, error) {
	var (
		c   *storage.Client
		err error
	)
	if endpoint == "" {
		c, err = storage.NewClient(ctx)
	} else {
		c, err = storage.NewClient(ctx,
			option.WithEndpoint(strings.TrimSuffix(endpoint, "/")+"/storage/v1/"),
			option.WithoutAuthentication(),
			storage.WithJSONReads())
	}
	if err != nil {
		return nil, err
	}
	c.SetRetry(storage.WithMaxAttempts(gcsAttempts))
	return c, nil
}

// gcsAttempts bounds the tries of one Cloud Storage request: with the
// client's backoff (1 s doubling, up to 30 s, jittered) about a minute.
const gcsAttempts = 6

// CheckGCSEndpoint checks that a Cloud Storage emulator endpoint answers
// HTTP within timeout: any answer will do. It says what failed and names
// the endpoint, so that a command can say so at once instead of waiting on
// a storage client's retries.
func CheckGCSEndpoint(ctx context.Context, endpoint string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(endpoint, "/")+"/storage/v1/b", nil)
	if err != nil {
		return fmt.Errorf("Cloud Storage endpoint %s: %w", endpoint, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		why := err
		var ue *url.Error
		if errors.As(err, &ue) {
			why = ue.Err // the URL is the endpoint's, named already
		}
		if ctx.Err() != nil {
			why = fmt.Errorf("no answer within %s", timeout)
		}
		return fmt.Errorf("Cloud Storage endpoint %s cannot be reached: %v (is the emulator running? --gcs-endpoint, env ZERONER_GCS_ENDPOINT)", endpoint, why)
	}
	resp.Body.Close()
	return nil
}

// List returns the objects whose URI starts with prefix, in lexical order
// of URI. The prefix must name a bucket: gs://b/ and gs://b list the whole
// bucket. Names ending in "/", the placeholders that consoles create for
// folders, are skipped. A missing bucket is an error wrapping ErrNotExist.
func (g *GCS) List(ctx context.Context, prefix string) ([]Object, error) {
	bucket, key, err := parseGS(prefix)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	q := &storage.Query{Prefix: key}
	if err := q.SetAttrSelection([]string{"Name", "Size", "Updated", "Generation"}); err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	var objs []Object
	it := g.c.Bucket(bucket).Objects(ctx, q)
	for {
		a, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, gcsErr(err))
		}
		if strings.HasSuffix(a.Name, "/") {
			continue
		}
		objs = append(objs, gcsObject(bucket, a))
	}
	// Cloud Storage lists in this order already; emulators need not.
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.URI, b.URI) })
	return objs, nil
}

func gcsObject(bucket string, a *storage.ObjectAttrs) Object {
	return Object{URI: "gs://" + bucket + "/" + a.Name, Size: a.Size, ModTime: a.Updated, Generation: a.Generation}
}

// Open returns the object's content as a stream.
func (g *GCS) Open(ctx context.Context, uri string) (io.ReadCloser, error) {
	o, err := g.object(uri)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", uri, err)
	}
	r, err := o.NewReader(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", uri, gcsErr(err))
	}
	return r, nil
}

// OpenAt returns the object for random access; every ReadAt is a range
// read, made with ctx. Reads are pinned to the generation that OpenAt saw,
// so an object replaced meanwhile fails to read rather than mixing
// versions.
func (g *GCS) OpenAt(ctx context.Context, uri string) (ReaderAt, error) {
	o, err := g.object(uri)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", uri, err)
	}
	a, err := o.Attrs(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", uri, gcsErr(err))
	}
	o = o.Generation(a.Generation)
	if a.ContentEncoding == "gzip" {
		// Read the bytes as stored, which Size counts, rather than have
		// them decompressed, which also ignores ranges. (The client
		// refuses this with JSON reads, as against an emulator.)
		o = o.ReadCompressed(true)
	}
	return &gcsReaderAt{ctx: ctx, uri: uri, o: o, gen: a.Generation, size: a.Size}, nil
}

type gcsReaderAt struct {
	ctx  context.Context // io.ReaderAt has no context argument
	uri  string
	o    *storage.ObjectHandle
	gen  int64
	size int64
}

// ReadAt reads with one range request, so it is safe for concurrent use.
func (r *gcsReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset %d", r.uri, off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), r.size-off)
	if n == 0 {
		return 0, nil
	}
	rr, err := r.o.NewRangeReader(r.ctx, off, n)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return 0, fmt.Errorf("read %s: generation %d is gone, replaced or deleted since OpenAt: %w", r.uri, r.gen, gcsErr(err))
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", r.uri, gcsErr(err))
	}
	defer rr.Close()
	m, err := io.ReadFull(rr, p[:n])
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = io.ErrUnexpectedEOF // the object is shorter than its size
		}
		return m, fmt.Errorf("read %s at %d: %w", r.uri, off, err)
	}
	if m < len(p) {
		return m, io.EOF
	}
	return m, nil
}

func (r *gcsReaderAt) Close() error { return nil }
func (r *gcsReaderAt) Size() int64  { return r.size }

// Stat describes the object.
func (g *GCS) Stat(ctx context.Context, uri string) (Object, error) {
	o, err := g.object(uri)
	if err != nil {
		return Object{}, fmt.Errorf("stat %s: %w", uri, err)
	}
	a, err := o.Attrs(ctx)
	if err != nil {
		return Object{}, fmt.Errorf("stat %s: %w", uri, gcsErr(err))
	}
	return gcsObject(a.Bucket, a), nil
}

// Create uploads a new object on condition that none exists, so a
// duplicate or concurrent Create fails with ErrExist. An upload is created
// only when it completes, so an aborted write leaves nothing. Cloud Storage
// retries conditional uploads itself; if a retry follows an attempt that
// succeeded unseen, Create reports ErrExist for its own object.
func (g *GCS) Create(ctx context.Context, uri string, write func(io.Writer) error) error {
	o, err := g.object(uri)
	if err == nil {
		err = upload(ctx, o.If(storage.Conditions{DoesNotExist: true}), write)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", uri, err)
	}
	return nil
}

// Replace uploads the object, overwriting any existing one.
func (g *GCS) Replace(ctx context.Context, uri string, write func(io.Writer) error) error {
	o, err := g.object(uri)
	if err == nil {
		// Unconditional uploads are not retried by default, but sending
		// the same content twice is harmless.
		err = upload(ctx, o.Retryer(storage.WithPolicy(storage.RetryAlways)), write)
	}
	if err != nil {
		return fmt.Errorf("replace %s: %w", uri, err)
	}
	return nil
}

func upload(ctx context.Context, o *storage.ObjectHandle, write func(io.Writer) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // aborts the upload if write panics
	w := o.NewWriter(ctx)
	if err := write(w); err != nil {
		// Cancelling before Close aborts the upload; Close alone would
		// complete it with what was written.
		cancel()
		w.Close()
		return err
	}
	err := w.Close()
	// Writing an object cannot find the object missing: a 404 is the
	// bucket's (GCS says so in the message; emulators may not).
	var e *googleapi.Error
	if errors.As(err, &e) && e.Code == http.StatusNotFound {
		return &kindError{kind: ErrNoBucket, err: err}
	}
	return gcsErr(err)
}

// Delete removes the object; a missing object is not an error.
func (g *GCS) Delete(ctx context.Context, uri string) error {
	o, err := g.object(uri)
	if err == nil {
		// Deleting twice is harmless, so retry even without preconditions.
		err = o.Retryer(storage.WithPolicy(storage.RetryAlways)).Delete(ctx)
		if errors.Is(err, storage.ErrObjectNotExist) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", uri, gcsErr(err))
	}
	return nil
}

var errGSURI = errors.New("not a gs://bucket/key URI")

// parseGS splits a gs:// URI, leaving the key verbatim.
func parseGS(uri string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(uri, "gs://")
	bucket, key, _ = strings.Cut(rest, "/")
	if !ok || bucket == "" {
		return "", "", errGSURI
	}
	return bucket, key, nil
}

// object returns the handle of the object uri names. It rejects "." and
// ".." segments, which Cloud Storage would take literally where a reader
// of the URI would not.
func (g *GCS) object(uri string) (*storage.ObjectHandle, error) {
	bucket, key, err := parseGS(uri)
	if err != nil {
		return nil, err
	}
	if key == "" {
		return nil, errors.New("no object key")
	}
	for s := range strings.SplitSeq(key, "/") {
		if s == "." || s == ".." {
			return nil, errors.New(`"." or ".." in object key; use Normalize or Join`)
		}
	}
	return g.c.Bucket(bucket).Object(key), nil
}

// gcsErr makes Cloud Storage errors satisfy IsNotExist and IsExist.
func gcsErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, storage.ErrBucketNotExist) {
		return &kindError{kind: ErrNoBucket, err: err}
	}
	if errors.Is(err, storage.ErrObjectNotExist) {
		return &kindError{kind: ErrNotExist, err: err}
	}
	var e *googleapi.Error
	if errors.As(err, &e) {
		switch {
		case e.Code == http.StatusPreconditionFailed:
			// A failed DoesNotExist precondition: Create's only precondition.
			return &kindError{kind: ErrExist, err: err, msg: "object already exists"}
		case e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden:
			return &kindError{kind: ErrPermission, err: err}
		}
	}
	return err
}

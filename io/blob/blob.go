// Package blob is zeroner's one interface to object storage: local files
// (file:// URIs; Normalize makes them from paths) and Google Cloud Storage
// (gs:// URIs).
//
// URIs are file:///absolute/path or gs://bucket/key, written literally (no
// percent-encoding). Turn user input into URIs with [Normalize] and build
// URIs with [Join]; both clean paths lexically, rooted at "/" or at the
// bucket, so ".." never climbs out of a bucket. Stores take URIs as given:
// the local store cleans them, as the file system would; the Cloud Storage
// store uses keys verbatim, because "a//b" and "a/b" are different objects
// there, and rejects keys with "." or ".." segments.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// ErrExist is returned by Create when the object already exists.
var ErrExist = fs.ErrExist

// ErrNotExist is returned when an object does not exist.
var ErrNotExist = fs.ErrNotExist

// ErrPermission is returned when the store refuses access.
var ErrPermission = fs.ErrPermission

// ErrNoBucket is returned when a gs:// bucket does not exist. It is also an
// ErrNotExist.
var ErrNoBucket = fmt.Errorf("bucket does not exist: %w", fs.ErrNotExist)

// Object describes a stored object.
type Object struct {
	URI        string
	Size       int64
	ModTime    time.Time
	Generation int64 // GCS object generation; 0 for local files
}

// ReaderAt gives random access to an object, as Parquet readers need.
type ReaderAt interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Store is object storage. URIs are absolute: file:///path or gs://bucket/key.
type Store interface {
	// List returns the objects whose URI starts with prefix, in lexical
	// order of URI. It lists recursively.
	List(ctx context.Context, prefix string) ([]Object, error)
	// Open returns the object's content as a stream.
	Open(ctx context.Context, uri string) (io.ReadCloser, error)
	// OpenAt returns the object for random access.
	OpenAt(ctx context.Context, uri string) (ReaderAt, error)
	// Stat describes the object.
	Stat(ctx context.Context, uri string) (Object, error)
	// Create writes a new object with what write writes, atomically: either
	// the whole object appears or none of it does. If write fails, or ctx is
	// cancelled, nothing appears. It returns an error wrapping ErrExist if
	// the object exists, and changes nothing then (write may not be called).
	Create(ctx context.Context, uri string, write func(io.Writer) error) error
	// Replace is Create that overwrites an existing object, still atomically.
	Replace(ctx context.Context, uri string, write func(io.Writer) error) error
	// Delete removes the object; deleting a missing object is not an error.
	Delete(ctx context.Context, uri string) error
}

// IsExist reports whether err says an object already exists.
func IsExist(err error) bool { return errors.Is(err, ErrExist) }

// IsNotExist reports whether err says an object does not exist.
func IsNotExist(err error) bool { return errors.Is(err, ErrNotExist) }

// IsPermanent reports whether err is one that retrying cannot fix: access
// refused, or a bucket that does not exist.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermission) || errors.Is(err, ErrNoBucket) }

// kindError is err that also matches kind (ErrExist or ErrNotExist) in
// errors.Is, so a backend's error satisfies IsExist or IsNotExist and keeps
// its own text and identity.
type kindError struct {
	kind error
	err  error
	msg  string // replaces err's text if set
}

func (e *kindError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return e.err.Error()
}

func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

package wire

import (
	"context"
	"io"

	"go.temporal.io/sdk/temporal"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/io/blob"
)

// safeStore is the activities' view of storage: errors that retrying cannot fix
// (access refused, a missing bucket) become non-retryable refusals
// (ErrRefused), so the job stops at once with a message that names the
// object, instead of retrying an activity that cannot succeed. Errors keep
// their identity (blob.IsNotExist still holds).
type safeStore struct{ blob.Store }

func permanent(err error) error {
	if err != nil && blob.IsPermanent(err) {
		return temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrRefused, err)
	}
	return err
}

func (s safeStore) List(ctx context.Context, prefix string) ([]blob.Object, error) {
	objs, err := s.Store.List(ctx, prefix)
	return objs, permanent(err)
}

func (s safeStore) Open(ctx context.Context, uri string) (io.ReadCloser, error) {
	r, err := s.Store.Open(ctx, uri)
	return r, permanent(err)
}

func (s safeStore) OpenAt(ctx context.Context, uri string) (blob.ReaderAt, error) {
	r, err := s.Store.OpenAt(ctx, uri)
	return r, permanent(err)
}

func (s safeStore) Stat(ctx context.Context, uri string) (blob.Object, error) {
	o, err := s.Store.Stat(ctx, uri)
	return o, permanent(err)
}

func (s safeStore) Create(ctx context.Context, uri string, write func(io.Writer) error) error {
	return permanent(s.Store.Create(ctx, uri, write))
}

func (s safeStore) Replace(ctx context.Context, uri string, write func(io.Writer) error) error {
	return permanent(s.Store.Replace(ctx, uri, write))
}

func (s safeStore) Delete(ctx context.Context, uri string) error {
	return permanent(s.Store.Delete(ctx, uri))
}

package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// runContract checks the Store contract on s, with root a URI under which
// nothing exists yet.
func runContract(t *testing.T, s Store, root string) {
	ctx := context.Background()
	u := func(key string) string { return root + "/" + key }
	mustCreate := func(t *testing.T, uri, data string) {
		t.Helper()
		if err := s.Create(ctx, uri, WriteBytes([]byte(data))); err != nil {
			t.Fatal(err)
		}
	}
	wantContent := func(t *testing.T, uri, want string) {
		t.Helper()
		got, err := ReadAll(ctx, s, uri)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("%s holds %q, want %q", uri, got, want)
		}
	}
	wantMissing := func(t *testing.T, uri string) {
		t.Helper()
		_, err := s.Stat(ctx, uri)
		if !IsNotExist(err) {
			t.Fatalf("Stat(%s) = %v, want ErrNotExist", uri, err)
		}
		objs, err := s.List(ctx, uri)
		if err != nil || len(objs) != 0 {
			t.Fatalf("List(%s) = %v, %v; want nothing", uri, objs, err)
		}
	}
	boom := errors.New("boom")

	t.Run("List", func(t *testing.T) {
		root := u("list")
		keys := []string{
			// Lexical order, which is not the order of a directory walk:
			// '-' < '.' < '/' < '2'.
			"corpus-x/d",
			"corpus.txt",
			"corpus/a.jsonl",
			"corpus/b/c.jsonl",
			"corpus2/e",
			"other/f",
		}
		// Create out of order, with sizes that tell objects apart.
		for _, i := range []int{3, 0, 5, 1, 4, 2} {
			mustCreate(t, root+"/"+keys[i], strings.Repeat("x", i))
		}
		tests := []struct {
			prefix string
			want   []string
		}{
			{"/corp", keys[:5]},
			{"/corpus", keys[:5]},
			{"/corpus/", keys[2:4]},
			{"/corpus/b", keys[3:4]},
			{"/corpus.txt", keys[1:2]},
			{"/corpus/a.jsonl/", nil},
			{"/nothing", nil},
			{"/nothing/", nil},
			{"/other/", keys[5:]},
			{"/", keys},
			{"", keys},
		}
		for _, tt := range tests {
			objs, err := s.List(ctx, root+tt.prefix)
			if err != nil {
				t.Fatalf("List(%q): %v", tt.prefix, err)
			}
			var got []string
			for _, o := range objs {
				k, ok := strings.CutPrefix(o.URI, root+"/")
				if !ok {
					t.Fatalf("List(%q) gave %s, not under %s", tt.prefix, o.URI, root)
				}
				got = append(got, k)
				if i := indexOf(keys, k); o.Size != int64(i) {
					t.Errorf("List(%q): %s has size %d, want %d", tt.prefix, k, o.Size, i)
				}
				if o.ModTime.IsZero() {
					t.Errorf("List(%q): %s has no ModTime", tt.prefix, k)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("List(%q) = %q, want %q", tt.prefix, got, tt.want)
			}
		}
	})

	t.Run("Read", func(t *testing.T) {
		uri := u("read/hello.txt")
		const data = "hello, world"
		mustCreate(t, uri, data)
		wantContent(t, uri, data)

		o, err := s.Stat(ctx, uri)
		if err != nil {
			t.Fatal(err)
		}
		if o.URI != uri || o.Size != int64(len(data)) || o.ModTime.IsZero() {
			t.Errorf("Stat = %+v, want URI %s, size %d and a ModTime", o, uri, len(data))
		}

		r, err := s.OpenAt(ctx, uri)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.Size() != int64(len(data)) {
			t.Errorf("Size() = %d, want %d", r.Size(), len(data))
		}
		for _, tt := range []struct {
			off, n  int
			want    string
			wantEOF bool
		}{
			{0, 5, "hello", false},
			{7, 5, "world", false},
			{7, 10, "world", true},
			{11, 1, "d", false},
			{12, 1, "", true},
			{20, 1, "", true},
			{3, 0, "", false},
		} {
			p := make([]byte, tt.n)
			n, err := r.ReadAt(p, int64(tt.off))
			if string(p[:n]) != tt.want || (err == io.EOF) != tt.wantEOF || (err != nil && err != io.EOF) {
				t.Errorf("ReadAt(%d bytes, %d) = %q, %v; want %q, EOF %v", tt.n, tt.off, p[:n], err, tt.want, tt.wantEOF)
			}
		}
		// Parquet readers read concurrently.
		var wg sync.WaitGroup
		for i := range len(data) {
			wg.Go(func() {
				p := make([]byte, 1)
				if _, err := r.ReadAt(p, int64(i)); err != nil || p[0] != data[i] {
					t.Errorf("ReadAt(1, %d) = %q, %v", i, p, err)
				}
			})
		}
		wg.Wait()
	})

	t.Run("Empty", func(t *testing.T) {
		uri := u("empty")
		if err := s.Create(ctx, uri, func(io.Writer) error { return nil }); err != nil {
			t.Fatal(err)
		}
		wantContent(t, uri, "")
		r, err := s.OpenAt(ctx, uri)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if n, err := r.ReadAt(make([]byte, 1), 0); r.Size() != 0 || n != 0 || err != io.EOF {
			t.Errorf("Size, ReadAt = %d, %d, %v; want 0, 0, EOF", r.Size(), n, err)
		}
	})

	t.Run("Missing", func(t *testing.T) {
		uri := u("missing/x.txt")
		_, err := s.Open(ctx, uri)
		checkNotExist(t, "Open", uri, err)
		_, err = s.OpenAt(ctx, uri)
		checkNotExist(t, "OpenAt", uri, err)
		_, err = s.Stat(ctx, uri)
		checkNotExist(t, "Stat", uri, err)
		_, err = ReadAll(ctx, s, uri)
		checkNotExist(t, "ReadAll", uri, err)
		if err := s.Delete(ctx, uri); err != nil {
			t.Errorf("Delete of a missing object: %v", err)
		}

		// A "directory" is not an object.
		mustCreate(t, u("missing/dir/y.txt"), "y")
		_, err = s.Stat(ctx, u("missing/dir"))
		checkNotExist(t, "Stat", u("missing/dir"), err)
		_, err = s.Open(ctx, u("missing/dir"))
		checkNotExist(t, "Open", u("missing/dir"), err)
		// Nor does anything exist under an object, as if it were one.
		_, err = s.Stat(ctx, u("missing/dir/y.txt/z"))
		checkNotExist(t, "Stat", u("missing/dir/y.txt/z"), err)
	})

	t.Run("CreateTwice", func(t *testing.T) {
		uri := u("twice.txt")
		mustCreate(t, uri, "first")
		err := s.Create(ctx, uri, WriteBytes([]byte("second")))
		if !IsExist(err) || !strings.Contains(fmt.Sprint(err), uri) {
			t.Errorf("second Create: %v; want ErrExist naming %s", err, uri)
		}
		wantContent(t, uri, "first")
	})

	t.Run("CreateRace", func(t *testing.T) {
		uri := u("race.txt")
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = s.Create(ctx, uri, WriteBytes([]byte(fmt.Sprintf("writer %d", i))))
			})
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Errorf("writers %d and %d both created %s", won, i, uri)
			case err == nil:
				won = i
			case !IsExist(err):
				t.Errorf("writer %d: %v", i, err)
			}
		}
		if won >= 0 {
			wantContent(t, uri, fmt.Sprintf("writer %d", won))
		} else {
			t.Errorf("no writer created %s", uri)
		}
	})

	t.Run("FailedWrite", func(t *testing.T) {
		uri := u("failed/x.txt")
		err := s.Create(ctx, uri, func(w io.Writer) error {
			io.WriteString(w, "partial")
			return boom
		})
		if !errors.Is(err, boom) || !strings.Contains(fmt.Sprint(err), uri) {
			t.Errorf("Create = %v, want boom naming %s", err, uri)
		}
		wantMissing(t, uri)

		// Replace fails the same way, leaving the old content.
		mustCreate(t, uri, "old")
		err = s.Replace(ctx, uri, func(w io.Writer) error {
			io.WriteString(w, "new")
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("Replace = %v, want boom", err)
		}
		wantContent(t, uri, "old")
	})

	t.Run("FailedLargeWrite", func(t *testing.T) {
		// More than the Cloud Storage writer's 16 MiB chunk, so that the
		// upload is under way when the write fails.
		uri := u("failed/large.bin")
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		err := s.Create(ctx, uri, func(w io.Writer) error {
			for range 17 {
				if _, err := w.Write(chunk); err != nil {
					return err
				}
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("Create = %v, want boom", err)
		}
		wantMissing(t, uri)
	})

	t.Run("Cancelled", func(t *testing.T) {
		uri := u("cancelled.txt")
		ctx, cancel := context.WithCancel(ctx)
		err := s.Create(ctx, uri, func(w io.Writer) error {
			io.WriteString(w, "data")
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Create = %v, want context.Canceled", err)
		}
		wantMissing(t, uri)
	})

	t.Run("Replace", func(t *testing.T) {
		uri := u("replace/x.txt")
		if err := s.Replace(ctx, uri, WriteBytes([]byte("one"))); err != nil {
			t.Fatal(err)
		}
		wantContent(t, uri, "one")
		if err := s.Replace(ctx, uri, WriteBytes([]byte("two, longer"))); err != nil {
			t.Fatal(err)
		}
		wantContent(t, uri, "two, longer")
		if o, err := s.Stat(ctx, uri); err != nil || o.Size != int64(len("two, longer")) {
			t.Errorf("Stat = %+v, %v", o, err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		uri := u("delete/x.txt")
		mustCreate(t, uri, "x")
		keep := u("delete/keep.txt")
		mustCreate(t, keep, "keep")
		if err := s.Delete(ctx, uri); err != nil {
			t.Fatal(err)
		}
		wantMissing(t, uri)
		wantContent(t, keep, "keep")
		if err := s.Delete(ctx, uri); err != nil {
			t.Errorf("second Delete: %v", err)
		}
		// The name is free again.
		mustCreate(t, uri, "again")
		wantContent(t, uri, "again")
	})
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func checkNotExist(t *testing.T, op, uri string, err error) {
	t.Helper()
	if !IsNotExist(err) || !strings.Contains(fmt.Sprint(err), uri) {
		t.Errorf("%s(%s) = %v; want ErrNotExist naming the URI", op, uri, err)
	}
}

func TestFileContract(t *testing.T) {
	runContract(t, NewFile(), "file://"+t.TempDir())
}

func TestGCSContract(t *testing.T) {
	c := newFakeGCS(t, "bucket")
	runContract(t, NewGCS(c), "gs://bucket/root")
}

// newFakeGCS starts fake-gcs-server on a loopback port with the named
// buckets, and returns a client of it made as production code makes one.
func newFakeGCS(t *testing.T, buckets ...string) *storage.Client {
	srv := startFakeGCS(t, buckets...)
	c, err := NewGCSClient(context.Background(), srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func startFakeGCS(t *testing.T, buckets ...string) *fakestorage.Server {
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http",
		Host:   "127.0.0.1",
		Port:   0, // any free port
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	for _, b := range buckets {
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	return srv
}

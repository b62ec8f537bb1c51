package blob

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

func TestNormalize(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	wd = filepath.ToSlash(wd)
	tests := []struct{ in, want string }{
		{"gs://b/k", "gs://b/k"},
		{"gs://b/a//b/./c/", "gs://b/a/b/c/"},
		{"gs://b/x/../../y", "gs://b/y"},
		{"gs://b/..", "gs://b/"},
		{"gs://b", "gs://b/"},
		{"file:///data/corpus", "file:///data/corpus"},
		{"file:///data/corpus/", "file:///data/corpus/"},
		{"file:///data/./corpus/..", "file:///data/"},
		{"file:///../../etc/x", "file:///etc/x"},
		{"file:///", "file:///"},
		{"/data/corpus", "file:///data/corpus"},
		{"/data//corpus/", "file:///data/corpus/"},
		{"/", "file:///"},
		{"corpus/a.jsonl", "file://" + wd + "/corpus/a.jsonl"},
		{"corpus/", "file://" + wd + "/corpus/"},
		{".", "file://" + wd},
		{"weird:name", "file://" + wd + "/weird:name"},
		{"GS://b/k", "gs://b/k"},
		{"File:///data/x", "file:///data/x"},
		{"exchange", "file://" + wd + "/exchange"},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "s3://b/k", "http://host/x", "gs://", "gs:///k", "file://host/x", "file:relative", "gs:b/k"} {
		if got, err := Normalize(in); err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", in, got)
		}
	}
	// The errors say what the input should look like.
	for in, want := range map[string]string{
		"file:/data/x":  "want file:///absolute/path",
		"file://data/x": "want file:///absolute/path",
		"gs:/b/k":       "want gs://bucket/key",
		"gs://":         "want gs://bucket/key",
		"s3://b/k":      `unsupported scheme "s3"; want a local path, file:// or gs://`,
	} {
		if _, err := Normalize(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Normalize(%q): %v, want an error with %q", in, err, want)
		}
	}
}

func TestJoin(t *testing.T) {
	tests := []struct {
		base string
		elem []string
		want string
	}{
		{"gs://b/out", []string{"runs", "1"}, "gs://b/out/runs/1"},
		{"gs://b/out/", []string{"x/"}, "gs://b/out/x"},
		{"gs://b", []string{"x"}, "gs://b/x"},
		{"gs://b", nil, "gs://b/"},
		{"gs://b/out", []string{"../../../x"}, "gs://b/x"},
		{"file:///data", []string{"a", "b.txt"}, "file:///data/a/b.txt"},
		{"file:///data", []string{"..", "..", "etc"}, "file:///etc"},
		{"file:///", []string{"x"}, "file:///x"},
		{"rel/dir", []string{"x"}, "rel/dir/x"},
	}
	for _, tt := range tests {
		if got := Join(tt.base, tt.elem...); got != tt.want {
			t.Errorf("Join(%q, %q) = %q, want %q", tt.base, tt.elem, got, tt.want)
		}
	}
}

func TestFileTemp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := NewFile()
	uri := "file://" + dir + "/sub/x.txt"

	// A failed write and a panicking one leave no temporary files.
	boom := errors.New("boom")
	if err := s.Create(ctx, uri, func(w io.Writer) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Create = %v, want boom", err)
	}
	func() {
		defer func() { recover() }()
		s.Replace(ctx, uri, func(w io.Writer) error { panic("write") })
	}()
	if ents, err := os.ReadDir(filepath.Join(dir, "sub")); err != nil || len(ents) != 0 {
		t.Errorf("after failed writes, sub holds %v (%v), want nothing", ents, err)
	}

	// List skips the temporary files of interrupted writes.
	if err := s.Create(ctx, uri, WriteBytes([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", tmpPrefix+"123"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := s.List(ctx, "file://"+dir+"/")
	if err != nil || len(objs) != 1 || objs[0].URI != uri {
		t.Errorf("List = %v, %v; want just %s", objs, err, uri)
	}
	fi, err := os.Stat(filepath.Join(dir, "sub", "x.txt"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("x.txt: %v, %v; want mode 0644", fi, err)
	}
}

func TestFilePaths(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := NewFile()
	if err := s.Create(ctx, "file://"+dir+"/a/b.txt", WriteBytes([]byte("b"))); err != nil {
		t.Fatal(err)
	}
	// ".." is cleaned, and the result names the clean URI.
	o, err := s.Stat(ctx, "file://"+dir+"/a/x/../b.txt")
	if err != nil || o.URI != "file://"+dir+"/a/b.txt" {
		t.Errorf("Stat = %+v, %v", o, err)
	}
	// Prefixes are cleaned too, keeping the final slash.
	objs, err := s.List(ctx, "file://"+dir+"/x/../a/./")
	if err != nil || len(objs) != 1 {
		t.Errorf("List = %v, %v", objs, err)
	}
	// A symbolic link to a listed directory is followed.
	if err := os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	objs, err = s.List(ctx, "file://"+dir+"/link/")
	if err != nil || len(objs) != 1 || objs[0].URI != "file://"+dir+"/link/b.txt" {
		t.Errorf("List(link/) = %v, %v", objs, err)
	}
	// Deleting a directory does nothing.
	if err := s.Delete(ctx, "file://"+dir+"/a"); err != nil {
		t.Errorf("Delete(dir) = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "b.txt")); err != nil {
		t.Error(err)
	}
	for _, uri := range []string{dir + "/a/b.txt", "file://rel/x", "gs://b/x"} {
		if _, err := s.Stat(ctx, uri); err == nil || IsNotExist(err) || !strings.Contains(err.Error(), uri) {
			t.Errorf("Stat(%q) = %v, want a bad-URI error naming it", uri, err)
		}
	}
}

func TestGCSKeys(t *testing.T) {
	ctx := context.Background()
	srv := startFakeGCS(t, "b")
	// A folder placeholder, as consoles make, is not listed.
	srv.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "b", Name: "dir/"}})
	srv.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "b", Name: "dir/x"}, Content: []byte("x")})
	c, err := NewGCSClient(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := NewGCS(c)

	for _, prefix := range []string{"gs://b", "gs://b/", "gs://b/dir"} {
		objs, err := s.List(ctx, prefix)
		if err != nil || len(objs) != 1 || objs[0].URI != "gs://b/dir/x" || objs[0].Generation == 0 {
			t.Errorf("List(%s) = %+v, %v; want gs://b/dir/x with a generation", prefix, objs, err)
		}
	}
	if _, err := s.List(ctx, "gs://nobucket/x"); !IsNotExist(err) {
		t.Errorf("List of a missing bucket = %v, want ErrNotExist", err)
	}
	for _, uri := range []string{"gs://b/dir/../x", "gs://b/./x", "gs://b/", "gs://b", "gs:///x", "file:///x"} {
		if _, err := s.Stat(ctx, uri); err == nil || IsNotExist(err) || !strings.Contains(err.Error(), uri) {
			t.Errorf("Stat(%q) = %v, want a bad-URI error naming it", uri, err)
		}
	}
	// Keys are verbatim: "a//b" is not "a/b".
	if err := s.Create(ctx, "gs://b/a//b", WriteBytes([]byte("ab"))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "gs://b/a/b"); !IsNotExist(err) {
		t.Errorf("Stat(gs://b/a/b) = %v, want ErrNotExist", err)
	}
	if b, err := ReadAll(ctx, s, "gs://b/a//b"); err != nil || string(b) != "ab" {
		t.Errorf("ReadAll(gs://b/a//b) = %q, %v", b, err)
	}
}

// TestGCSReadAtReplaced checks that random access never mixes the versions
// of a replaced object.
func TestGCSReadAtReplaced(t *testing.T) {
	ctx := context.Background()
	s := NewGCS(newFakeGCS(t, "b"))
	uri := "gs://b/x"
	if err := s.Create(ctx, uri, WriteBytes([]byte("old content"))); err != nil {
		t.Fatal(err)
	}
	r, err := s.OpenAt(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := s.Replace(ctx, uri, WriteBytes([]byte("new content"))); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 3)
	// Without object versioning the old generation is gone.
	n, err := r.ReadAt(p, 0)
	if err == nil || !strings.Contains(err.Error(), "since OpenAt") {
		t.Errorf("ReadAt after Replace = %q, %v; want an error", p[:n], err)
	}
}

func TestMux(t *testing.T) {
	ctx := context.Background()
	srv := startFakeGCS(t, "b")
	m, err := New(ctx, Options{GCSEndpoint: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	local := "file://" + t.TempDir() + "/x.txt"
	if err := m.Create(ctx, local, WriteBytes([]byte("local"))); err != nil {
		t.Fatal(err)
	}
	if m.client != nil {
		t.Error("file:// use created a Cloud Storage client")
	}
	if err := m.Create(ctx, "gs://b/x.txt", WriteBytes([]byte("remote"))); err != nil {
		t.Fatal(err)
	}
	for uri, want := range map[string]string{local: "local", "gs://b/x.txt": "remote"} {
		if b, err := ReadAll(ctx, m, uri); err != nil || string(b) != want {
			t.Errorf("ReadAll(%s) = %q, %v; want %q", uri, b, err, want)
		}
		if objs, err := m.List(ctx, uri); err != nil || len(objs) != 1 || objs[0].URI != uri {
			t.Errorf("List(%s) = %v, %v", uri, objs, err)
		}
	}
	for _, uri := range []string{"/abs/path", "rel/path", "s3://b/k"} {
		if _, err := m.Stat(ctx, uri); err == nil || !strings.Contains(err.Error(), uri) {
			t.Errorf("Stat(%q) = %v, want an error naming it", uri, err)
		}
	}
}

func TestMuxOptions(t *testing.T) {
	ctx := context.Background()
	for _, e := range []string{"", "http://127.0.0.1:4443", "https://gcs.example.com/"} {
		if _, err := New(ctx, Options{GCSEndpoint: e}); err != nil {
			t.Errorf("New(%q): %v", e, err)
		}
	}
	for _, e := range []string{"127.0.0.1:4443", "localhost", "ftp://x", "http://"} {
		if _, err := New(ctx, Options{GCSEndpoint: e}); err == nil {
			t.Errorf("New(%q) succeeded, want an error", e)
		}
	}
}

// The whole contract holds through a Mux too.
func TestMuxContract(t *testing.T) {
	srv := startFakeGCS(t, "b")
	m, err := New(context.Background(), Options{GCSEndpoint: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var _ Store = m
	t.Run("file", func(t *testing.T) { runContract(t, m, "file://"+t.TempDir()) })
	t.Run("gs", func(t *testing.T) { runContract(t, m, "gs://b/root") })
}

func TestJoinUnder(t *testing.T) {
	tests := []struct {
		base string
		elem []string
		want string // "" if refused
	}{
		{"file:///out/runs/r1", []string{"stages", "discover", "shard-00000.parquet"}, "file:///out/runs/r1/stages/discover/shard-00000.parquet"},
		{"file:///out/runs/r1", []string{"a/../b"}, "file:///out/runs/r1/b"},
		{"file:///out/runs/r1", []string{"/etc/passwd"}, "file:///out/runs/r1/etc/passwd"},
		{"file:///out/runs/r1", nil, "file:///out/runs/r1"},
		{"file:///out/runs/r1", []string{"."}, "file:///out/runs/r1"},
		{"file:///out/runs/r1/", []string{"x"}, "file:///out/runs/r1/x"},
		{"file:///", []string{"x"}, "file:///x"},
		{"gs://b", []string{"x"}, "gs://b/x"},
		{"gs://b/out", []string{"runs", "r1"}, "gs://b/out/runs/r1"},
		{"rel/dir", []string{"x"}, "rel/dir/x"},
		{"file:///out/runs/r1", []string{".."}, ""},
		{"file:///out/runs/r1", []string{"../r2/run.json"}, ""},
		{"file:///out/runs/r1", []string{"stages", "../../../../etc/passwd"}, ""},
		{"file:///out/runs/r1", []string{"a", "..", "..", "r1x"}, ""},
		{"file:///out/runs/r1", []string{"../r1x"}, ""}, // a sibling sharing the prefix
		{"gs://b/out", []string{"../../x"}, ""},
		{"rel/dir", []string{"../../.."}, ""},
	}
	for _, tt := range tests {
		got, err := JoinUnder(tt.base, tt.elem...)
		if tt.want == "" {
			if !errors.Is(err, ErrOutside) || got != "" {
				t.Errorf("JoinUnder(%q, %q) = %q, %v; want ErrOutside", tt.base, tt.elem, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("JoinUnder(%q, %q) = %q, %v; want %q", tt.base, tt.elem, got, err, tt.want)
		}
	}
}

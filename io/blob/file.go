package blob

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// tmpPrefix starts the names of the temporary files that Create and Replace
// write before moving them into place. List skips such files, which an
// interrupted process may leave behind.
const tmpPrefix = ".blob-tmp-"

// File is a Store of local files, named by file:///absolute/path URIs.
//
// URIs are cleaned lexically (file:///a/b/../c is /a/c). Only regular files
// (and symbolic links to them) are objects: a directory does not exist as an
// object, so Stat and Open report ErrNotExist for it and Delete ignores it.
// Reads do not observe ctx once the file is open.
type File struct{}

// NewFile returns a store of local files.
func NewFile() *File { return &File{} }

// List returns the regular files whose URI starts with prefix, in lexical
// order of URI. The prefix is a plain string prefix: file:///data/corp
// matches /data/corpus/a.jsonl and /data/corp.txt, while file:///data/corp/
// matches only files under the directory /data/corp. Symbolic links to
// directories are followed only on the way to the prefix's directory, not
// below it, so link cycles cannot trap List. Temporary files of Create and
// Replace are skipped. A prefix that matches nothing, even under a missing
// directory, gives an empty list.
func (f *File) List(ctx context.Context, prefix string) ([]Object, error) {
	p, ok := strings.CutPrefix(prefix, "file://")
	if !ok || !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("list %s: %w", prefix, errFileURI)
	}
	p = cleanKeepSlash(p)
	// Walk the deepest directory that holds every match: the prefix itself
	// if it names a directory, else its parent.
	dir := p
	if !strings.HasSuffix(dir, "/") {
		dir = path.Dir(dir)
	}
	var objs []Object
	if err := walk(ctx, dir, p, &objs); err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.URI, b.URI) })
	return objs, nil
}

// walk appends to objs the files under dir whose path starts with prefix.
func walk(ctx context.Context, dir, prefix string, objs *[]Object) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		// A missing directory (or a file where the prefix wants one)
		// holds no matches; one that vanished during the walk held none
		// worth reporting.
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return err
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			// Descend only where matches can be: the directory is inside
			// the prefix, or the prefix goes on inside the directory.
			if d := p + "/"; strings.HasPrefix(d, prefix) || strings.HasPrefix(prefix, d) {
				if err := walk(ctx, p, prefix, objs); err != nil {
					return err
				}
			}
			continue
		}
		if !strings.HasPrefix(p, prefix) || strings.HasPrefix(e.Name(), tmpPrefix) {
			continue
		}
		fi, err := os.Stat(p) // follows symbolic links
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // dangling link, or deleted meanwhile
				continue
			}
			return err
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		*objs = append(*objs, Object{URI: "file://" + p, Size: fi.Size(), ModTime: fi.ModTime()})
	}
	return nil
}

// Open returns the file's content as a stream.
func (f *File) Open(ctx context.Context, uri string) (io.ReadCloser, error) {
	fh, _, err := openFile(ctx, uri)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", uri, err)
	}
	return fh, nil
}

// OpenAt returns the file for random access.
func (f *File) OpenAt(ctx context.Context, uri string) (ReaderAt, error) {
	fh, fi, err := openFile(ctx, uri)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", uri, err)
	}
	return &fileReaderAt{f: fh, size: fi.Size()}, nil
}

func openFile(ctx context.Context, uri string) (*os.File, fs.FileInfo, error) {
	p, err := localPath(uri)
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	fh, err := os.Open(p)
	if err != nil {
		return nil, nil, osErr(err)
	}
	fi, err := fh.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errNotRegular
	}
	if err != nil {
		fh.Close()
		return nil, nil, err
	}
	return fh, fi, nil
}

type fileReaderAt struct {
	f    *os.File
	size int64
}

func (r *fileReaderAt) ReadAt(p []byte, off int64) (int, error) { return r.f.ReadAt(p, off) }
func (r *fileReaderAt) Close() error                            { return r.f.Close() }
func (r *fileReaderAt) Size() int64                             { return r.size }

// Stat describes the file.
func (f *File) Stat(ctx context.Context, uri string) (Object, error) {
	p, err := localPath(uri)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return Object{}, fmt.Errorf("stat %s: %w", uri, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return Object{}, fmt.Errorf("stat %s: %w", uri, osErr(err))
	}
	if !fi.Mode().IsRegular() {
		return Object{}, fmt.Errorf("stat %s: %w", uri, errNotRegular)
	}
	return Object{URI: "file://" + p, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Create writes a new file, creating parent directories as needed. The
// content goes to a temporary file in the same directory, is synced, and is
// then hard-linked to its name, which fails if the name exists; so a
// duplicate or concurrent Create never overwrites. On file systems without
// hard links Create falls back to checking for the file and renaming, which
// a concurrent Create can race. If the file already exists, write may not be
// called at all.
func (f *File) Create(ctx context.Context, uri string, write func(io.Writer) error) error {
	if err := put(ctx, uri, write, false); err != nil {
		return fmt.Errorf("create %s: %w", uri, err)
	}
	return nil
}

// Replace is Create that renames the temporary file over any existing file.
func (f *File) Replace(ctx context.Context, uri string, write func(io.Writer) error) error {
	if err := put(ctx, uri, write, true); err != nil {
		return fmt.Errorf("replace %s: %w", uri, err)
	}
	return nil
}

func put(ctx context.Context, uri string, write func(io.Writer) error, replace bool) error {
	p, err := localPath(uri)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !replace {
		// Skip the work of writing an object that is already there; the
		// link below is what guarantees no overwrite.
		if _, err := os.Lstat(p); err == nil {
			return ErrExist
		}
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return osErr(err)
	}
	tmp, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return osErr(err)
	}
	// Remove the temporary file on every path, panics in write included,
	// unless a rename has made it the object.
	moved := false
	defer func() {
		if !moved {
			os.Remove(tmp.Name())
		}
	}()
	if err := fill(ctx, tmp, write); err != nil {
		return err
	}
	if replace {
		err = osErr(os.Rename(tmp.Name(), p))
		moved = err == nil
	} else {
		moved, err = link(tmp.Name(), p)
	}
	if err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// fill writes tmp's content, makes it durable, and closes tmp.
func fill(ctx context.Context, tmp *os.File, write func(io.Writer) error) error {
	defer tmp.Close()
	w := bufio.NewWriterSize(tmp, 64<<10)
	if err := write(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return osErr(err)
	}
	// CreateTemp makes files private; objects get ordinary permissions.
	if err := tmp.Chmod(0o644); err != nil {
		return osErr(err)
	}
	if err := tmp.Sync(); err != nil {
		return osErr(err)
	}
	if err := tmp.Close(); err != nil {
		return osErr(err)
	}
	// A write cancelled midway may have stopped early without an error.
	return ctx.Err()
}

// link gives tmp's content the name p unless p exists. It reports whether
// it renamed tmp rather than linking it.
func link(tmp, p string) (renamed bool, err error) {
	err = os.Link(tmp, p)
	if err == nil {
		return false, nil
	}
	if errors.Is(err, fs.ErrExist) {
		return false, ErrExist
	}
	// Some file systems (FAT, some network and FUSE mounts) have no hard
	// links. Check and rename instead: racy against a concurrent Create,
	// but it never exposes a partial file.
	if _, err := os.Lstat(p); err == nil {
		return false, ErrExist
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, osErr(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return false, osErr(err)
	}
	return true, nil
}

// syncDir makes a new directory entry durable. Errors are ignored: some
// file systems cannot sync directories, and the content is already synced.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Delete removes the file. A missing file or a directory is not an error.
func (f *File) Delete(ctx context.Context, uri string) error {
	p, err := localPath(uri)
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = remove(p)
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", uri, err)
	}
	return nil
}

func remove(p string) error {
	fi, err := os.Lstat(p)
	if err == nil && !fi.IsDir() {
		err = os.Remove(p)
	}
	if err != nil {
		if err = osErr(err); errors.Is(err, ErrNotExist) {
			return nil
		}
		return err
	}
	return nil
}

var (
	errFileURI    = errors.New("not a file:///absolute/path URI")
	errNotRegular = &kindError{kind: ErrNotExist, err: errors.New("not a regular file")}
)

// localPath returns the clean local path that uri names.
func localPath(uri string) (string, error) {
	p, ok := strings.CutPrefix(uri, "file://")
	if !ok || !strings.HasPrefix(p, "/") {
		return "", errFileURI
	}
	return path.Clean(p), nil
}

// osErr drops the path from an os error, which the caller's message already
// names as a URI, and makes a missing parent directory (ENOTDIR, as in
// /a/file/b) count as not existing, as it would in a bucket.
func osErr(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	if errors.Is(err, syscall.ENOTDIR) {
		return &kindError{kind: ErrNotExist, err: err}
	}
	return err
}

// cleanKeepSlash cleans an absolute path, keeping a final slash (or a final
// "." or ".." segment, which name directories) as a final slash: as a list
// prefix, "/a/" differs from "/a".
func cleanKeepSlash(p string) string {
	dir := strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
	p = path.Clean("/" + p)
	if dir && p != "/" {
		p += "/"
	}
	return p
}

// Normalize turns a local path, relative or absolute, into an absolute
// file:// URI, and cleans file:// and gs:// URIs; it rejects other schemes.
// It is the one way user input (a flag, an argument) becomes a URI.
// Schemes are case-insensitive (GS://b is gs://b). Cleaning is lexical and
// rooted at "/" or at the bucket, so ".." cannot climb out of either:
// gs://b/x/../../y is gs://b/y. A final slash is kept, since it matters to
// List. Relative paths resolve against the working directory, so normalize
// user input once, where it enters the program. Errors say what the input
// should look like.
func Normalize(uriOrPath string) (string, error) {
	s := uriOrPath
	if s == "" {
		return "", errors.New("blob: empty path")
	}
	scheme, isURI := uriScheme(s)
	if isURI {
		rest := s[len(scheme):]
		switch strings.ToLower(scheme) {
		case "gs":
			key, ok := strings.CutPrefix(rest, "://")
			bucket, key, _ := strings.Cut(key, "/")
			if !ok || bucket == "" {
				return "", fmt.Errorf("blob: %q: want gs://bucket/key", s)
			}
			return "gs://" + bucket + cleanKeepSlash(key), nil
		case "file":
			p, ok := strings.CutPrefix(rest, "://")
			if !ok || !strings.HasPrefix(p, "/") {
				return "", fmt.Errorf("blob: %q: want file:///absolute/path (three slashes, no host) or a plain path", s)
			}
			return "file://" + cleanKeepSlash(p), nil
		}
		return "", fmt.Errorf("blob: %q: unsupported scheme %q; want a local path, file:// or gs://", s, scheme)
	}
	abs, err := filepath.Abs(s)
	if err != nil {
		return "", fmt.Errorf("blob: %q: %w", s, err)
	}
	abs = filepath.ToSlash(abs)
	if strings.HasSuffix(s, "/") && abs != "/" {
		abs += "/"
	}
	return "file://" + abs, nil
}

// uriScheme returns s's scheme if s looks like a URI: scheme://..., or gs:
// or file: without the slashes, which is surely a typo rather than a path.
func uriScheme(s string) (string, bool) {
	i := strings.Index(s, ":")
	if i <= 0 {
		return "", false
	}
	scheme := s[:i]
	for j, c := range scheme {
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (j == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", false
		}
	}
	if strings.HasPrefix(s[i:], "://") {
		return scheme, true
	}
	switch strings.ToLower(scheme) {
	case "gs", "file":
		return scheme, true
	}
	return "", false
}

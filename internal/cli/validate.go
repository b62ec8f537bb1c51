package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zeroner/zeroner/io/blob"
	"github.com/zeroner/zeroner/pipeline"
)

// Checks of a command's flags and inputs, made before any workflow starts:
// a mistake fails at once, on one line, with exit code ExitUsage.

// usageError is errs on one line, with exit code ExitUsage; nil if there
// are none.
func usageError(errs ...error) error {
	var msgs []string
	for _, e := range errs {
		if e != nil {
			msgs = append(msgs, strings.ReplaceAll(e.Error(), "\n", "; "))
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return withCode(ExitUsage, errors.New(strings.Join(msgs, "; ")))
}

// oneOf checks the value of an enum flag (--name) against the allowed
// values, and names them if it is none of them.
func oneOf(name, value string, allowed ...string) error {
	if slices.Contains(allowed, value) {
		return nil
	}
	return fmt.Errorf("--%s %q: want %s", name, value, orList(allowed))
}

// orList is "a, b or c".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// uriFlag turns the value of the URI flag --name into a URI (see
// blob.Normalize: plain paths become absolute file:// URIs), or says why it
// cannot.
func uriFlag(name, value string) (string, error) {
	if strings.TrimSpace(value) == "" {
		return "", fmt.Errorf("--%s is empty: want a path, file:// or gs:// URI", name)
	}
	u, err := blob.Normalize(value)
	if err != nil {
		return "", fmt.Errorf("--%s: %s", name, strings.TrimPrefix(err.Error(), "blob: "))
	}
	return u, nil
}

// lists reports whether listing prefix (a corpus prefix, as blob.Store.List
// reads it: every URI that starts with it) would list what is stored under
// dir: dir itself or any object below it.
func lists(prefix, dir string) bool {
	return strings.HasPrefix(strings.TrimSuffix(dir, "/")+"/", prefix)
}

// isFlagError reports whether err comes from parsing the command line (the
// flag package's errors, or positional arguments a command does not take):
// a usage error.
func isFlagError(err error) bool {
	msg := err.Error()
	for _, p := range []string{
		"flag provided but not defined: ", "bad flag syntax: ", "invalid boolean value ",
		"invalid boolean flag ", "flag needs an argument: ", "invalid value ", "unexpected arguments: ",
	} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// flagOutput is a flag set's output: the flag package writes a parse error
// there before it calls Usage, and the command returns the same error,
// which Main prints once. It notes that it was written to.
type flagOutput struct{ failed bool }

func (o *flagOutput) Write(p []byte) (int, error) {
	o.failed = true
	return len(p), nil
}

// logLevels are the values of --log-level.
var logLevels = []string{"debug", "info", "warn", "error"}

// check checks --log-level.
func (l *logFlags) check() error {
	if l.level == "" || slices.Contains(logLevels, strings.ToLower(l.level)) {
		return nil
	}
	return oneOf("log-level", l.level, logLevels...)
}

// inputTimeout bounds reading a schema before a job starts.
const inputTimeout = 2 * time.Minute

// maxSchemaBytes caps a schema file: a larger one is some other file.
const maxSchemaBytes = 16 << 20

// checkSchema reads the schema at uri (the normalized value of --flag,
// given as name) through storage and parses it, so that a missing or
// invalid schema fails before a job starts. A schema that is missing or
// does not parse is a usage error; storage that fails otherwise (cannot be
// reached, refuses access) is an error.
func checkSchema(gcsEndpoint, flag, name, uri string) error {
	ctx, cancel := context.WithTimeout(context.Background(), inputTimeout)
	defer cancel()
	var (
		store blob.Store
		err   error
	)
	if strings.HasPrefix(uri, "gs://") {
		store, err = openStore(ctx, gcsEndpoint)
	} else {
		store, err = blob.New(ctx, blob.Options{})
	}
	if err != nil {
		return err
	}
	if c, ok := store.(io.Closer); ok {
		defer c.Close()
	}
	data, err := readCapped(ctx, store, uri, maxSchemaBytes)
	if blob.IsNotExist(err) {
		what := "no such file"
		if local, ok := strings.CutPrefix(uri, "file://"); ok {
			if st, serr := os.Stat(filepath.FromSlash(local)); serr == nil && st.IsDir() {
				what = "a folder, not a schema file"
			}
		} else {
			what = "no such object"
			if errors.Is(err, blob.ErrNoBucket) {
				what = "no such bucket"
			}
		}
		return usageError(fmt.Errorf("--%s %s: %s", flag, name, what))
	}
	if err != nil {
		return fmt.Errorf("--%s %s: %w", flag, name, err)
	}
	if _, err := pipeline.ParseSchema(data); err != nil {
		return usageError(fmt.Errorf("--%s %s: %w", flag, name, err))
	}
	return nil
}

// readCapped reads the object at uri, up to max bytes.
func readCapped(ctx context.Context, store blob.Store, uri string, max int64) ([]byte, error) {
	r, err := store.Open(ctx, uri)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, usageError(fmt.Errorf("larger than %d MiB: not a schema", max>>20))
	}
	return data, nil
}

// checkLocalPrefix reports whether a local corpus prefix (a file:// URI)
// names something: a file or folder, or, without a final slash, a prefix of
// names in its folder ("corpus/part-" for corpus/part-1.jsonl, ...).
func checkLocalPrefix(uri string) bool {
	p, ok := strings.CutPrefix(uri, "file://")
	if !ok {
		return true // not local: listing it is the job's first step
	}
	if _, err := os.Stat(filepath.FromSlash(p)); err == nil {
		return true
	}
	if strings.HasSuffix(p, "/") {
		return false
	}
	ents, err := os.ReadDir(filepath.FromSlash(path.Dir(p)))
	if err != nil {
		return false
	}
	base := path.Base(p)
	return slices.ContainsFunc(ents, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), base) })
}

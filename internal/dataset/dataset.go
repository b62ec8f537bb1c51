// Package dataset locates the project's benchmark data (CrossNER and
// MIT-Restaurant), kept in the repository's data folder.
package dataset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Dir returns the benchmark data folder: $ZERONER_DATA if set, else the
// data folder of the module root found above the working directory.
func Dir() (string, error) {
	if d := os.Getenv("ZERONER_DATA"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "data")
			if _, err := os.Stat(d); err != nil {
				return "", fmt.Errorf("benchmark data: %w (set ZERONER_DATA)", err)
			}
			return d, nil
		}
		if filepath.Dir(dir) == dir {
			return "", errors.New("benchmark data: no go.mod above the working directory (set ZERONER_DATA)")
		}
	}
}

// Path joins elem to the data folder, for tests: it fails t when the data
// cannot be found, because a benchmark test that skips proves nothing.
func Path(t interface {
	Helper()
	Fatal(...any)
}, elem ...string) string {
	t.Helper()
	d, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(append([]string{d}, elem...)...)
}

package annotate

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
	"github.com/zeroner/zeroner/internal/wire"
	"github.com/zeroner/zeroner/io/blob"
)

// Paths derived from names stay in the run's folder: a run id or stage name
// with ".." or "/" gives a URI that no store accepts.
func TestRunPathStaysInside(t *testing.T) {
	tests := []struct {
		run     activities.Run
		uri     string // the path to check
		refused bool
	}{
		{activities.Run{ID: "r1", URI: "file:///out/runs/r1"}, runs.Dir{ID: "r1", URI: "file:///out/runs/r1"}.Stage("discover", 3), false},
		{activities.Run{URI: "file:///out/runs/r1"}, runs.Dir{URI: "file:///out/runs/r1"}.Summary(), false},
		{activities.Run{ID: "../../x", URI: "file:///x"}, runs.Dir{ID: "../../x", URI: "file:///x"}.Summary(), true},
		{activities.Run{ID: "..", URI: "file:///out"}, runs.Dir{ID: "..", URI: "file:///out"}.Manifest(), true},
		{activities.Run{ID: "r1", URI: "file:///out/runs/r1"}, runs.Dir{ID: "r1", URI: "file:///out/runs/r1"}.Stage("../../../etc", 0), true},
		{activities.Run{ID: "r1", URI: "file:///out/runs/r1"}, runs.Dir{ID: "r1", URI: "file:///out/runs/r1"}.Failures("../../r2/stages/x", 0), true},
	}
	for _, tt := range tests {
		refused := strings.HasPrefix(tt.uri, "refused:")
		if refused != tt.refused {
			t.Errorf("run %+v: path %q, refused %v, want %v", tt.run, tt.uri, refused, tt.refused)
		}
		if !refused && !strings.HasPrefix(tt.uri, tt.run.URI+"/") {
			t.Errorf("run %+v: path %q is not in the run's folder", tt.run, tt.uri)
		}
	}
}

// A job name that climbs ("../../x"), as a caller of the workflow that skips
// the CLI's check could send, makes the plan fail and writes nothing outside
// the output prefix.
func TestPlanHostileJobWritesNothingOutside(t *testing.T) {
	ctx := context.Background()
	base, store, put := tempStore(t)
	root := strings.TrimPrefix(base, "file://") // the folder, to walk
	put(blob.Join(base, "in", "corpus", "a.jsonl"), []byte(`{"id":"../../../d","text":"Angela Merkel spoke ."}`+"\n"))
	put(blob.Join(base, "in", "schema.yaml"), politicsSchema(t))
	out := blob.Join(base, "in", "deep", "out")
	a := New(wire.New(store, slog.New(slog.DiscardHandler), wire.Options{}))
	for _, job := range []string{"../../../escape", "../x", "a/../../../b", "..", "./."} {
		_, err := a.Plan(ctx, activities.Config{Job: job, Corpus: blob.Join(base, "in", "corpus") + "/", Output: out,
			Schema: blob.Join(base, "in", "schema.yaml"), Backend: activities.BackendSpec{Name: "rules"}, ShardSize: 10})
		// A job with "/" is refused (its state or its run's folder would
		// leave the output prefix); ".." makes the run id "..-<hash>": odd,
		// but one segment in the output prefix.
		refused := err != nil && (strings.Contains(err.Error(), "refused:") || errors.Is(err, blob.ErrOutside))
		if strings.Contains(job, "/") && !refused {
			t.Errorf("plan of job %q: err %v, want a refused path", job, err)
		}
	}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		inputs := rel == filepath.Join("in", "corpus", "a.jsonl") || rel == filepath.Join("in", "schema.yaml")
		if !inputs && !strings.HasPrefix(rel, filepath.Join("in", "deep", "out")+"/") {
			t.Errorf("a hostile job name wrote %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

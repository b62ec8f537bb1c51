package search

import (
	"testing"

	"github.com/zeroner/zeroner/activities"
	"github.com/zeroner/zeroner/activities/runs"
)

func TestDefaultFloor(t *testing.T) {
	tests := []struct {
		name string
		m    runs.IndexManifest
		want float32
		ok   bool
	}{
		{"local with a head", runs.IndexManifest{Encoder: activities.EncoderSpec{Kind: "local"}, Head: runs.HeadFile}, LocalHeadFloor, true},
		{"local by default", runs.IndexManifest{Head: runs.HeadFile}, LocalHeadFloor, true},
		{"local raw", runs.IndexManifest{Encoder: activities.EncoderSpec{Kind: "local"}}, 0, false},
		{"embeddings with a head", runs.IndexManifest{Encoder: activities.EncoderSpec{Kind: "embeddings"}, Head: runs.HeadFile}, 0, false},
		{"hidden raw", runs.IndexManifest{Encoder: activities.EncoderSpec{Kind: "hidden"}}, 0, false},
	}
	for _, tt := range tests {
		if got, ok := DefaultFloor(tt.m); got != tt.want || ok != tt.ok {
			t.Errorf("%s: DefaultFloor = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

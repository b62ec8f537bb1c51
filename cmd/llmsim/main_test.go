package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zeroner/zeroner/internal/llmsim"
)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		errc <- run(ctx, []string{"--addr", "127.0.0.1:0", "--models", "a,b", "--schema", "crossner-ai", "--seed", "3"}, &stdout, &stderr, ready)
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("no URL")
	}
	if !strings.HasPrefix(stdout.String(), "http://127.0.0.1:") {
		t.Errorf("stdout %q", stdout.String())
	}
	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Data []struct{ ID string } }
	json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if len(m.Data) != 2 || m.Data[1].ID != "b" {
		t.Errorf("models %+v", m)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--help"}, &out, &out, nil)
	if err == nil || !strings.Contains(out.String(), "test double, not a") || !strings.Contains(out.String(), "-fault-429") ||
		!strings.Contains(out.String(), "-batch-delay") || !strings.Contains(out.String(), "-small-model") {
		t.Errorf("err %v, help %s", err, out.String())
	}
	for _, args := range [][]string{{"--anchor-miss", "2"}, {"--batch-expire", "2"}, {"--batch-item-fail", "-1"},
		{"--off-label", "2"}, {"--lose-count", "-1"}, {"--small-model", "--repeat-id", "1.5"}} {
		if err := run(context.Background(), args, &out, &out, nil); err == nil {
			t.Errorf("%q is accepted", args)
		}
	}
}

func TestSmallModelFlags(t *testing.T) {
	preset := llmsim.SmallModelPreset()
	tests := []struct {
		args []string
		want llmsim.SmallModel
	}{
		{nil, llmsim.SmallModel{}},
		{[]string{"--small-model"}, preset},
		{[]string{"--indent", "--honor-max-tokens", "--schema-order", "--off-label", "0.1", "--repeat-id", "0.2", "--lose-count", "30", "--empty-mention", "0.3"},
			llmsim.SmallModel{Indent: true, MaxTokens: true, SchemaOrder: true, OffLabel: 0.1, RepeatID: 0.2, LoseCount: 30, EmptyMention: 0.3}},
		// Flags given override the preset, before it or after it.
		{[]string{"--lose-count", "50", "--small-model", "--indent=false"}, func() llmsim.SmallModel {
			p := preset
			p.LoseCount, p.Indent = 50, false
			return p
		}()},
		{[]string{"--repeat-id", "0", "--small-model"}, func() llmsim.SmallModel {
			p := preset
			p.RepeatID = 0
			return p
		}()},
	}
	for _, tt := range tests {
		opt, _, err := parseFlags(tt.args, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		if opt.Small != tt.want {
			t.Errorf("%q: %+v, want %+v", tt.args, opt.Small, tt.want)
		}
	}
}

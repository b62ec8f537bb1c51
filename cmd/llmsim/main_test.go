package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
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
		!strings.Contains(out.String(), "-batch-delay") {
		t.Errorf("err %v, help %s", err, out.String())
	}
	for _, args := range [][]string{{"--anchor-miss", "2"}, {"--batch-expire", "2"}, {"--batch-item-fail", "-1"}} {
		if err := run(context.Background(), args, &out, &out, nil); err == nil {
			t.Errorf("%q is accepted", args)
		}
	}
}

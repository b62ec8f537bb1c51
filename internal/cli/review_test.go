package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zeroner/zeroner/internal/review"
	"github.com/zeroner/zeroner/io/table"
)

func TestReviewPage(t *testing.T) {
	r := newTestRun(t)
	page := filepath.Join(t.TempDir(), "review.html")
	var out bytes.Buffer
	// The run before the flags, as the usage line has it, and after.
	for _, args := range [][]string{{r.dir, "--sample", "20", "--out", page}, {"--sample", "20", "--out", page, r.dir}} {
		out.Reset()
		if code := Main(context.Background(), append([]string{"review"}, args...), Env{Stdout: &out, Stderr: &out}); code != 0 {
			t.Fatalf("review %v: exit %d\n%s", args, code, out.String())
		}
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(html, []byte(`class="card doc`)); n != 20 {
		t.Errorf("%d documents shown, want 20", n)
	}
	if !bytes.Contains(html, fmt.Appendf(nil, "301 documents · %d mentions · 20 documents shown", len(r.ms))) {
		t.Error("the page does not say how many documents and mentions the run has and shows")
	}
	for _, bad := range []string{"<script", "http://", "https://"} {
		if bytes.Contains(html, []byte(bad)) {
			t.Errorf("the page contains %q", bad)
		}
	}

	// Every mark is a mention of the table, and every mention of a
	// document shown is marked.
	marks, err := review.Marks(bytes.NewReader(html))
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		doc        string
		start, end int64
		label      string
	}
	mentions := map[key]table.Mention{}
	byDoc := map[string]int{}
	for _, m := range r.ms {
		mentions[key{m.DocID, m.Start, m.End, m.Label}] = m
		byDoc[m.DocID]++
	}
	shown := map[string]int{}
	for _, mk := range marks {
		m, ok := mentions[key{mk.Doc, int64(mk.Start), int64(mk.End), mk.Label}]
		if !ok {
			t.Errorf("mark %+v is not in the mentions table", mk)
			continue
		}
		if mk.Text != m.Text {
			t.Errorf("mark %+v shows %q, the mention is %q", mk, mk.Text, m.Text)
		}
		shown[mk.Doc]++
	}
	if len(shown) == 0 {
		t.Fatal("no marks")
	}
	for doc, n := range shown {
		if n != byDoc[doc] {
			t.Errorf("document %s: %d marks, %d mentions", doc, n, byDoc[doc])
		}
	}

	screenshot(t, page)
}

// screenshot renders page in headless Chromium, which checks that it
// renders offline, and keeps the PNG: under $ZERONER_SCREENSHOTS if set,
// else in the system's temporary folder.
func screenshot(t *testing.T, page string) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("no %s to render the page: apt-get install chromium", chromium)
	}
	dir := os.Getenv("ZERONER_SCREENSHOTS")
	if dir == "" {
		dir = os.TempDir()
	}
	png, err := filepath.Abs(filepath.Join(dir, "zeroner-review-page.png"))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(png)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir="+t.TempDir(), "--screenshot="+png, "--window-size=1280,1600",
		"file://"+page)
	// Chromium's exit status says little; the PNG is the proof.
	outb, _ := cmd.CombinedOutput()
	data, err := os.ReadFile(png)
	if err != nil || len(data) < 10_000 || !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("chromium wrote no screenshot to %s (%v):\n%s", png, err, lastLines(string(outb), 20))
	}
	t.Logf("screenshot of the review page: %s", png)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

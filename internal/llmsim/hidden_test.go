package llmsim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// hiddenPost sends body to /v1/hidden_states and returns the status and
// the answer.
func hiddenPost(t *testing.T, s *Server, body string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/hidden_states", strings.NewReader(body))
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// hiddenVectors asks for the vectors of body and fails on anything but 200.
func hiddenVectors(t *testing.T, s *Server, body string) hiddenStatesResponse {
	t.Helper()
	code, data := hiddenPost(t, s, body)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, data)
	}
	var r hiddenStatesResponse
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return r
}

func hiddenCos(a, b []float32) float64 {
	var d float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
	}
	return d
}

func TestHiddenStatesShape(t *testing.T) {
	s, err := New(Options{EmbedDim: 48})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		dim  string // the request's dim field, "" for none
		want int
	}{
		{"default width", "", 48},
		{"asked width", `"dim": 20,`, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"model": "m", "layer": 17, ` + tc.dim + ` "inputs": [
				{"text": "Ada Lovelace met Babbage in Zürich.", "spans": [[0, 12], [17, 24], [28, 34]]},
				{"text": "sports team", "spans": [[0, 11]]}]}`
			r := hiddenVectors(t, s, body)
			if r.Dim != tc.want {
				t.Errorf("dim %d, want %d", r.Dim, tc.want)
			}
			if len(r.Data) != 2 || len(r.Data[0].Vectors) != 3 || len(r.Data[1].Vectors) != 1 {
				t.Fatalf("answer shape %d inputs, want 2 with 3 and 1 vectors: %+v", len(r.Data), r.Data)
			}
			for i, d := range r.Data {
				for j, v := range d.Vectors {
					if len(v) != tc.want {
						t.Errorf("input %d span %d: %d values, want %d", i, j, len(v), tc.want)
					}
					if n := math.Sqrt(hiddenCos(v, v)); math.Abs(n-1) > 1e-5 {
						t.Errorf("input %d span %d: norm %v", i, j, n)
					}
				}
			}
			// Distinct spans get distinct vectors.
			if slices.Equal(r.Data[0].Vectors[0], r.Data[0].Vectors[1]) {
				t.Error("two spans of different words have the same vector")
			}
			if got := hiddenVectors(t, s, body); fmt.Sprint(got) != fmt.Sprint(r) {
				t.Error("the same request answers differently")
			}
		})
	}
	if st := s.Stats(); st.ByKind["hidden_states"] != 4 {
		t.Errorf("counted %d hidden-state requests, want 4", st.ByKind["hidden_states"])
	}
}

// A span's vector depends on its last word and that word's neighbours.
func TestHiddenStatesContext(t *testing.T) {
	s, err := New(Options{EmbedDim: 128})
	if err != nil {
		t.Fatal(err)
	}
	vec := func(layer int, text string, sp [2]int) []float32 {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"layer": layer, "inputs": []any{
			map[string]any{"text": "filler", "spans": [][2]int{{0, 6}}}, // its position must not matter
			map[string]any{"text": text, "spans": [][2]int{sp}},
		}})
		return hiddenVectors(t, s, string(b)).Data[1].Vectors[0]
	}
	const text = "Yesterday Ada Lovelace met Babbage in London ."
	full := vec(17, text, [2]int{10, 22}) // Ada Lovelace
	last := vec(17, text, [2]int{14, 22}) // Lovelace
	if !slices.Equal(full, last) {
		t.Error("spans with the same last word in the same context differ")
	}
	again := vec(17, "Ada Lovelace met Babbage in London .", [2]int{0, 12})
	if c := hiddenCos(full, again); c >= 0.999 || c < 0.5 {
		t.Errorf("same word, other left context: cosine %.3f, want in [0.5, 0.999)", c)
	}
	other := vec(17, "Ada Lovelace met Babbage in London .", [2]int{17, 24})
	if c, ref := hiddenCos(again, other), hiddenCos(full, again); c >= ref {
		t.Errorf("another word is as close (%.3f) as the same word elsewhere (%.3f)", c, ref)
	}
	if c := hiddenCos(full, vec(18, text, [2]int{10, 22})); c > 0.5 {
		t.Errorf("another layer: cosine %.3f, want unrelated", c)
	}
	// A span inside a word takes that word; one over white space alone
	// still gets a unit vector.
	if !slices.Equal(vec(17, text, [2]int{14, 18}), last) {
		t.Error("a span ending inside Lovelace is not Lovelace's vector")
	}
	if n := math.Sqrt(hiddenCos(vec(17, "a  b", [2]int{1, 3}), vec(17, "a  b", [2]int{1, 3}))); math.Abs(n-1) > 1e-5 {
		t.Errorf("white space span: norm %v", n)
	}
}

func TestHiddenStatesInvalid(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	many := `{"inputs": [` + strings.Repeat(`{"text": "a", "spans": [[0, 1]]},`, hiddenMaxInputs) + `{"text": "a", "spans": [[0, 1]]}]}`
	for _, tc := range []struct{ name, body, want string }{
		{"not JSON", `{"inputs": [`, "hidden_states"},
		{"no inputs", `{"inputs": []}`, "no inputs"},
		{"too many inputs", many, "at most 256"},
		{"no spans", `{"inputs": [{"text": "abc", "spans": []}]}`, "no spans"},
		{"span past the end", `{"inputs": [{"text": "Zürich", "spans": [[0, 7]]}]}`, "not inside a text of 6 code points"},
		{"empty span", `{"inputs": [{"text": "abc", "spans": [[1, 1]]}]}`, "[1, 1)"},
		{"negative start", `{"inputs": [{"text": "abc", "spans": [[-1, 2]]}]}`, "[-1, 2)"},
		{"negative dim", `{"dim": -3, "inputs": [{"text": "abc", "spans": [[0, 1]]}]}`, "dim -3"},
		{"huge dim", `{"dim": 100000, "inputs": [{"text": "abc", "spans": [[0, 1]]}]}`, "dim 100000"},
		{"negative layer", `{"layer": -1, "inputs": [{"text": "abc", "spans": [[0, 1]]}]}`, "layer -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, data := hiddenPost(t, s, tc.body)
			if code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", code, data)
			}
			var e struct {
				Error struct {
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(data, &e); err != nil {
				t.Fatalf("error is not JSON: %s", data)
			}
			if !strings.Contains(e.Error.Message, tc.want) {
				t.Errorf("message %q does not say %q", e.Error.Message, tc.want)
			}
		})
	}
	if st := s.Stats(); st.ByKind["hidden_states"] != 0 {
		t.Errorf("counted %d invalid requests as served", st.ByKind["hidden_states"])
	}
}

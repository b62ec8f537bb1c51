package runs

import (
	"bytes"
	"encoding/json"
	"io"
)

// WriteJSON writes v to w as JSON indented by two spaces, with a final
// newline and without HTML escaping: the files are read by people and
// programs, never embedded in HTML, so "<m>" stays "<m>".
func WriteJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

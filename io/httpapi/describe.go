package httpapi

import (
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"unicode"
)

// Describe formats a client's configuration, a struct, as %v would with
// field names, keeping its secrets out: a field named APIKey shows as
// RedactKey has it, and a field whose name ends in URL loses its password.
// Embedded structs are flattened. The clients' configurations use it for
// String and GoString, so that no way of printing them shows the key.
func Describe(config any) string {
	v := reflect.ValueOf(config)
	var b strings.Builder
	b.WriteString(v.Type().String())
	b.WriteByte('{')
	for i, f := range fields(v) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%v", f.name, f.value)
	}
	b.WriteByte('}')
	return b.String()
}

// LogValue logs a client's configuration as Describe formats it, one
// attribute per field, named in snake case (BaseURL is base_url).
func LogValue(config any) slog.Value {
	var attrs []slog.Attr
	for _, f := range fields(reflect.ValueOf(config)) {
		attrs = append(attrs, slog.Any(snake(f.name), f.value))
	}
	return slog.GroupValue(attrs...)
}

type field struct {
	name  string
	value any
}

// fields lists the exported fields of struct v, embedded ones flattened,
// with secrets redacted.
func fields(v reflect.Value) []field {
	var out []field
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		switch {
		case sf.Anonymous && sf.Type.Kind() == reflect.Struct:
			out = append(out, fields(v.Field(i))...)
		case !sf.IsExported():
		case sf.Name == "APIKey":
			out = append(out, field{sf.Name, RedactKey(v.Field(i).String())})
		case strings.HasSuffix(sf.Name, "URL") && sf.Type.Kind() == reflect.String:
			out = append(out, field{sf.Name, RedactURL(v.Field(i).String())})
		default:
			out = append(out, field{sf.Name, v.Field(i).Interface()})
		}
	}
	return out
}

// snake turns a Go field name into snake case, keeping acronyms whole:
// "BaseURL" is "base_url", "APIKey" is "api_key", "TopP" is "top_p".
func snake(name string) string {
	rs := []rune(name)
	var b strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 {
			prevLower := unicode.IsLower(rs[i-1])
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if prevLower || (nextLower && unicode.IsUpper(rs[i-1])) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

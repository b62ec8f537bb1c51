package llm

import (
	"errors"
	"net/http"
	"strings"

	"github.com/zeroner/zeroner/io/httpapi"
)

// exchange records what the transport saw of one request. go-openai's
// errors carry the status but not the headers, so the HTTP client fills
// this in through the request's context.
type exchange struct {
	sent       bool   // the request reached the transport
	retryAfter string // the response's Retry-After header
}

type exchangeKey struct{}

// doer is the HTTP client go-openai uses; it records each exchange.
type doer struct{ c *http.Client }

func (d doer) Do(req *http.Request) (*http.Response, error) {
	x, _ := req.Context().Value(exchangeKey{}).(*exchange)
	if x != nil {
		x.sent = true
	}
	resp, err := d.c.Do(req)
	if x != nil && resp != nil {
		x.retryAfter = resp.Header.Get("Retry-After")
	}
	return resp, err
}

// retryable reports whether a failed request may succeed if sent again:
// what httpapi.Retryable says, or a 200 without an answer.
func retryable(err error) bool {
	return httpapi.Retryable(err) || errors.Is(err, errNoChoices)
}

// schemaUnsupported reports whether err is a server refusing
// response_format json_schema. Servers say so in their own words, with 400
// or (FastAPI validation) 422, so look for what the words are about. A
// server that rejects this particular schema ("Invalid schema for
// response_format ...", as OpenAI says) does support schemas: falling back
// would hide a bug in the schema.
func schemaUnsupported(err error) bool {
	if s := httpapi.StatusOf(err); s != http.StatusBadRequest && s != http.StatusUnprocessableEntity {
		return false
	}
	msg := strings.ToLower(err.Error())
	return (strings.Contains(msg, "response_format") || strings.Contains(msg, "schema")) &&
		!strings.Contains(msg, "invalid schema")
}

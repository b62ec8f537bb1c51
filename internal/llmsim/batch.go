package llmsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The OpenAI Files and Batch APIs, for chat completions only. Files live
// in memory. A batch does its work lazily, when someone looks at it (a
// retrieve, a list or a cancel), so no goroutine runs behind the clients'
// backs and a test with an injected clock (Options.Now) sees every state.

const (
	batchEndpoint = "/v1/chat/completions"
	batchWindow   = "24h"
)

// BatchStats count the work of the Files and Batch APIs.
type BatchStats struct {
	Files   int64 `json:"files"`   // files uploaded
	Created int64 `json:"created"` // batches created
	// Batches by final status.
	Completed int64 `json:"completed"`
	Expired   int64 `json:"expired"`
	Failed    int64 `json:"failed"` // the input file was invalid
	Cancelled int64 `json:"cancelled"`
	// Requests: answered (in output files), answered with an error status
	// (injected 500s, bad bodies), left undone by expiry or cancellation.
	ItemsAnswered  int64 `json:"items_answered"`
	ItemsFailed    int64 `json:"items_failed"`
	ItemsExpired   int64 `json:"items_expired"`
	ItemsCancelled int64 `json:"items_cancelled"`
	// Tokens of the answered requests, apart from the online ones since
	// batches are billed apart.
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	CachedTokens     int64 `json:"cached_tokens"`
}

// fileObject is OpenAI's file object.
type fileObject struct {
	ID        string `json:"id"`
	Object    string `json:"object"`
	Bytes     int    `json:"bytes"`
	CreatedAt int64  `json:"created_at"`
	Filename  string `json:"filename"`
	Purpose   string `json:"purpose"`
	Status    string `json:"status"`
}

type file struct {
	obj     fileObject
	content []byte
	seq     int // order of creation
}

// batchObject is OpenAI's batch object. Its pointer fields are replaced,
// never written through, so a copy can be encoded outside the lock.
type batchObject struct {
	ID               string          `json:"id"`
	Object           string          `json:"object"`
	Endpoint         string          `json:"endpoint"`
	Errors           *batchErrors    `json:"errors"`
	InputFileID      string          `json:"input_file_id"`
	CompletionWindow string          `json:"completion_window"`
	Status           string          `json:"status"`
	OutputFileID     *string         `json:"output_file_id"`
	ErrorFileID      *string         `json:"error_file_id"`
	CreatedAt        int64           `json:"created_at"`
	InProgressAt     *int64          `json:"in_progress_at"`
	ExpiresAt        *int64          `json:"expires_at"`
	FinalizingAt     *int64          `json:"finalizing_at"`
	CompletedAt      *int64          `json:"completed_at"`
	FailedAt         *int64          `json:"failed_at"`
	ExpiredAt        *int64          `json:"expired_at"`
	CancellingAt     *int64          `json:"cancelling_at"`
	CancelledAt      *int64          `json:"cancelled_at"`
	RequestCounts    requestCounts   `json:"request_counts"`
	Metadata         json.RawMessage `json:"metadata"`
}

type requestCounts struct {
	Total     int `json:"total"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
}

type batchErrors struct {
	Object string       `json:"object"`
	Data   []batchError `json:"data"`
}

// batchError tells why an input file is invalid.
type batchError struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
	Line    *int    `json:"line"`
}

// batchRequest is a line of an input file.
type batchRequest struct {
	CustomID string          `json:"custom_id"`
	Method   string          `json:"method"`
	URL      string          `json:"url"`
	Body     json.RawMessage `json:"body"`
}

// batchLine is a line of an output or error file.
type batchLine struct {
	ID       string        `json:"id"`
	CustomID string        `json:"custom_id"`
	Response *lineResponse `json:"response"`
	Error    *lineError    `json:"error"`
}

type lineResponse struct {
	StatusCode int    `json:"status_code"`
	RequestID  string `json:"request_id"`
	Body       any    `json:"body"`
}

type lineError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type batch struct {
	obj     batchObject
	created time.Time
	reqs    []batchRequest // the input in line order, when it is valid
	invalid []batchError   // why the input is not valid
	key     string         // the input's hash and submission: seeds faults
}

// batchAPI serves the Files and Batch APIs of a Server.
type batchAPI struct {
	s *Server

	mu       sync.Mutex
	seq      int // ids handed out
	files    map[string]*file
	batches  map[string]*batch
	order    []*batch         // by creation
	attempts map[[32]byte]int // input content -> times batched
}

func newBatchAPI(s *Server) *batchAPI {
	return &batchAPI{
		s:        s,
		files:    make(map[string]*file),
		batches:  make(map[string]*batch),
		attempts: make(map[[32]byte]int),
	}
}

func (a *batchAPI) now() time.Time {
	if a.s.opt.Now != nil {
		return a.s.opt.Now()
	}
	return time.Now()
}

// newID returns prefix and a hash of a sequence number: ids look like
// OpenAI's and are the same on every server that is asked the same things.
func (a *batchAPI) newID(prefix string) string {
	a.seq++
	return prefix + hashID(prefix, strconv.Itoa(a.seq))
}

func hashID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:12])
}

func unix(t time.Time) *int64 {
	u := t.Unix()
	return &u
}

func notFound(w http.ResponseWriter, what, id string) {
	writeError(w, http.StatusNotFound, "invalid_request_error", fmt.Sprintf("No such %s: %s", what, id))
}

// addFile stores a file; a.mu is held.
func (a *batchAPI) addFile(name, purpose string, content []byte, now time.Time) *file {
	id := a.newID("file-")
	f := &file{
		obj: fileObject{ID: id, Object: "file", Bytes: len(content), CreatedAt: now.Unix(),
			Filename: name, Purpose: purpose, Status: "processed"},
		content: content,
		seq:     a.seq,
	}
	a.files[f.obj.ID] = f
	return f
}

// upload serves POST /v1/files: multipart/form-data with the fields
// purpose and file.
func (a *batchAPI) upload(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "expected multipart/form-data: "+err.Error())
		return
	}
	var purpose, name string
	var content []byte
	hasFile := false
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		var b []byte
		if err == nil {
			b, err = io.ReadAll(p)
		}
		if err != nil {
			status := http.StatusBadRequest
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				status = http.StatusRequestEntityTooLarge
			}
			writeError(w, status, "invalid_request_error", "reading the upload: "+err.Error())
			return
		}
		switch p.FormName() {
		case "purpose":
			purpose = strings.TrimSpace(string(b))
		case "file":
			name, content, hasFile = p.FileName(), b, true
		}
	}
	if purpose == "" || !hasFile {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "an upload needs the fields purpose and file")
		return
	}
	if name == "" {
		name = "upload.jsonl"
	}
	a.mu.Lock()
	obj := a.addFile(name, purpose, content, a.now()).obj
	a.mu.Unlock()
	a.s.count(func(st *Stats) { st.Batch.Files++ })
	writeJSON(w, http.StatusOK, obj)
}

// listFiles serves GET /v1/files, optionally of one purpose.
func (a *batchAPI) listFiles(w http.ResponseWriter, r *http.Request) {
	purpose := r.URL.Query().Get("purpose")
	a.mu.Lock()
	var fs []*file
	for _, f := range a.files {
		if purpose == "" || f.obj.Purpose == purpose {
			fs = append(fs, f)
		}
	}
	a.mu.Unlock()
	slices.SortFunc(fs, func(x, y *file) int { return y.seq - x.seq }) // newest first, as OpenAI lists them
	data := []fileObject{}
	for _, f := range fs {
		data = append(data, f.obj)
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data, "has_more": false})
}

func (a *batchAPI) file(id string) (*file, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, ok := a.files[id]
	return f, ok
}

// getFile serves GET /v1/files/{id}.
func (a *batchAPI) getFile(w http.ResponseWriter, r *http.Request) {
	f, ok := a.file(r.PathValue("id"))
	if !ok {
		notFound(w, "File", r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, f.obj)
}

// fileContent serves GET /v1/files/{id}/content.
func (a *batchAPI) fileContent(w http.ResponseWriter, r *http.Request) {
	f, ok := a.file(r.PathValue("id"))
	if !ok {
		notFound(w, "File", r.PathValue("id"))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(f.content)))
	_, _ = w.Write(f.content) // the client may be gone
}

// deleteFile serves DELETE /v1/files/{id}. A batch keeps the requests of
// its input file.
func (a *batchAPI) deleteFile(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a.mu.Lock()
	_, ok := a.files[id]
	delete(a.files, id)
	a.mu.Unlock()
	if !ok {
		notFound(w, "File", id)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": "file", "deleted": true})
}

// create serves POST /v1/batches.
func (a *batchAPI) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		InputFileID      string          `json:"input_file_id"`
		Endpoint         string          `json:"endpoint"`
		CompletionWindow string          `json:"completion_window"`
		Metadata         json.RawMessage `json:"metadata"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "not a batch request: "+err.Error())
		return
	}
	if req.Endpoint != batchEndpoint {
		writeError(w, http.StatusBadRequest, "invalid_request_error",
			fmt.Sprintf("llmsim batches serve only endpoint %s, not %q", batchEndpoint, req.Endpoint))
		return
	}
	if req.CompletionWindow != batchWindow {
		writeError(w, http.StatusBadRequest, "invalid_request_error",
			fmt.Sprintf("completion_window must be %s, not %q", batchWindow, req.CompletionWindow))
		return
	}
	var metadata json.RawMessage
	if len(req.Metadata) > 0 && string(req.Metadata) != "null" {
		var m map[string]string
		if err := json.Unmarshal(req.Metadata, &m); err != nil || len(m) > 16 {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "metadata must be at most 16 string pairs")
			return
		}
		metadata, _ = json.Marshal(m) // cannot fail
	}

	now := a.now()
	a.mu.Lock()
	f, ok := a.files[req.InputFileID]
	if !ok {
		a.mu.Unlock()
		notFound(w, "File", req.InputFileID)
		return
	}
	if f.obj.Purpose != "batch" {
		a.mu.Unlock()
		writeError(w, http.StatusBadRequest, "invalid_request_error",
			fmt.Sprintf("file %s has purpose %q, a batch input needs purpose \"batch\"", f.obj.ID, f.obj.Purpose))
		return
	}
	sum := sha256.Sum256(f.content)
	attempt := a.attempts[sum]
	a.attempts[sum]++
	reqs, invalid := parseBatchInput(f.content)
	b := &batch{
		obj: batchObject{
			ID: a.newID("batch_"), Object: "batch", Endpoint: req.Endpoint, InputFileID: f.obj.ID,
			CompletionWindow: req.CompletionWindow, Status: "validating", CreatedAt: now.Unix(),
			ExpiresAt: unix(now.Add(24 * time.Hour)), Metadata: metadata,
		},
		created: now,
		reqs:    reqs,
		invalid: invalid,
		key:     hex.EncodeToString(sum[:]) + "/" + strconv.Itoa(attempt),
	}
	a.batches[b.obj.ID] = b
	a.order = append(a.order, b)
	obj := b.obj
	a.mu.Unlock()
	a.s.count(func(st *Stats) { st.Batch.Created++ })
	writeJSON(w, http.StatusOK, obj)
}

// parseBatchInput reads an input file: JSON lines, each with a unique
// custom_id, method POST, url /v1/chat/completions and a body object.
// Blank lines are skipped; line numbers count from 1.
func parseBatchInput(content []byte) ([]batchRequest, []batchError) {
	var reqs []batchRequest
	var errs []batchError
	fail := func(line int, code, param, msg string) {
		e := batchError{Code: code, Message: msg, Line: &line}
		if param != "" {
			e.Param = &param
		}
		errs = append(errs, e)
	}
	seen := make(map[string]bool)
	for i, raw := range bytes.Split(content, []byte("\n")) {
		line := i + 1
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		var req batchRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			fail(line, "invalid_json_line", "", fmt.Sprintf("line %d is not a JSON object: %v", line, err))
			continue
		}
		switch {
		case req.CustomID == "":
			fail(line, "missing_required_parameter", "custom_id", fmt.Sprintf("line %d has no custom_id", line))
		case seen[req.CustomID]:
			fail(line, "duplicate_custom_id", "custom_id", fmt.Sprintf("line %d repeats custom_id %q", line, req.CustomID))
		case req.Method != http.MethodPost:
			fail(line, "invalid_request", "method", fmt.Sprintf("line %d has method %q, not POST", line, req.Method))
		case req.URL != batchEndpoint:
			fail(line, "invalid_url", "url", fmt.Sprintf("line %d has url %q, not the batch's endpoint %s", line, req.URL, batchEndpoint))
		case len(req.Body) == 0 || req.Body[0] != '{':
			fail(line, "missing_required_parameter", "body", fmt.Sprintf("line %d has no body object", line))
		default:
			reqs = append(reqs, req)
		}
		seen[req.CustomID] = true
	}
	if len(reqs) == 0 && len(errs) == 0 {
		errs = append(errs, batchError{Code: "empty_file", Message: "the input file has no requests"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return reqs, nil
}

// batch returns a batch brought up to the server's time; a.mu is held.
func (a *batchAPI) batch(id string, now time.Time) (*batch, bool) {
	b, ok := a.batches[id]
	if ok {
		a.advance(b, now)
	}
	return b, ok
}

// advance moves a batch along: validating, then failed or in_progress,
// then, once BatchDelay has passed since its creation, completed or
// expired. a.mu is held.
func (a *batchAPI) advance(b *batch, now time.Time) {
	if b.obj.Status == "validating" {
		if len(b.invalid) > 0 {
			b.obj.Status = "failed"
			b.obj.FailedAt = unix(now)
			b.obj.Errors = &batchErrors{Object: "list", Data: b.invalid}
			a.s.count(func(st *Stats) { st.Batch.Failed++ })
			return
		}
		b.obj.Status = "in_progress"
		b.obj.InProgressAt = unix(now)
		b.obj.RequestCounts.Total = len(b.reqs)
	}
	if b.obj.Status == "in_progress" && !now.Before(b.created.Add(a.s.opt.BatchDelay)) {
		a.finish(b, now)
	}
}

// finish answers a batch's requests and writes its output and error
// files. An expired batch answers the first half of its requests in line
// order; each answered request may fail with an injected 500. Both draws
// are seeded by the input's content and submission, so a submission of the
// same content again draws anew. a.mu is held.
func (a *batchAPI) finish(b *batch, now time.Time) {
	opt := a.s.opt
	b.obj.FinalizingAt = unix(now)
	expired := opt.BatchExpire > 0 && a.s.rng("batch-expire", b.key).Float64() < opt.BatchExpire
	run := len(b.reqs)
	if expired {
		run /= 2
	}
	var st BatchStats
	var out, errs bytes.Buffer
	for i, req := range b.reqs {
		l := batchLine{ID: "batch_req_" + hashID(b.obj.ID, strconv.Itoa(i)), CustomID: req.CustomID}
		requestID := "req_" + hashID(l.ID)
		switch {
		case i >= run:
			l.Error = &lineError{Code: "batch_expired", Message: "This request could not be executed before the completion window expired."}
			st.ItemsExpired++
		case opt.BatchItemFail > 0 && a.s.rng("batch-item", b.key, strconv.Itoa(i)).Float64() < opt.BatchItemFail:
			l.Response = &lineResponse{StatusCode: http.StatusInternalServerError, RequestID: requestID,
				Body: errorBody(http.StatusInternalServerError, "server_error", "llmsim: injected server error")}
			st.ItemsFailed++
		default:
			status, body, u := a.s.answerChat(req.Body, now.Unix())
			l.Response = &lineResponse{StatusCode: status, RequestID: requestID, Body: body}
			if status != http.StatusOK {
				st.ItemsFailed++
				break
			}
			st.ItemsAnswered++
			st.PromptTokens += u.prompt
			st.CompletionTokens += u.completion
			st.CachedTokens += u.cached
		}
		dst := &errs
		if l.Response != nil && l.Response.StatusCode == http.StatusOK {
			dst = &out
			b.obj.RequestCounts.Completed++
		} else {
			b.obj.RequestCounts.Failed++
		}
		line, _ := json.Marshal(l) // plain values and the answer's maps
		dst.Write(line)
		dst.WriteByte('\n')
	}
	if out.Len() > 0 {
		id := a.addFile(b.obj.ID+"_output.jsonl", "batch_output", out.Bytes(), now).obj.ID
		b.obj.OutputFileID = &id
	}
	if errs.Len() > 0 {
		id := a.addFile(b.obj.ID+"_error.jsonl", "batch_output", errs.Bytes(), now).obj.ID
		b.obj.ErrorFileID = &id
	}
	if expired {
		b.obj.Status, b.obj.ExpiredAt = "expired", unix(now)
		st.Expired++
	} else {
		b.obj.Status, b.obj.CompletedAt = "completed", unix(now)
		st.Completed++
	}
	a.s.count(func(s *Stats) { s.Batch.add(st) })
}

func (s *BatchStats) add(x BatchStats) {
	s.Files += x.Files
	s.Created += x.Created
	s.Completed += x.Completed
	s.Expired += x.Expired
	s.Failed += x.Failed
	s.Cancelled += x.Cancelled
	s.ItemsAnswered += x.ItemsAnswered
	s.ItemsFailed += x.ItemsFailed
	s.ItemsExpired += x.ItemsExpired
	s.ItemsCancelled += x.ItemsCancelled
	s.PromptTokens += x.PromptTokens
	s.CompletionTokens += x.CompletionTokens
	s.CachedTokens += x.CachedTokens
}

// retrieve serves GET /v1/batches/{id}.
func (a *batchAPI) retrieve(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	now := a.now()
	a.mu.Lock()
	b, ok := a.batch(id, now)
	var obj batchObject
	if ok {
		obj = b.obj
	}
	a.mu.Unlock()
	if !ok {
		notFound(w, "Batch", id)
		return
	}
	writeJSON(w, http.StatusOK, obj)
}

// cancel serves POST /v1/batches/{id}/cancel. Work is done lazily, so a
// batch cancelled before it finishes has answered nothing: every request
// goes to the error file as batch_cancelled.
func (a *batchAPI) cancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	now := a.now()
	a.mu.Lock()
	b, ok := a.batch(id, now)
	if !ok {
		a.mu.Unlock()
		notFound(w, "Batch", id)
		return
	}
	if b.obj.Status != "in_progress" {
		status := b.obj.Status
		a.mu.Unlock()
		writeError(w, http.StatusConflict, "invalid_request_error", fmt.Sprintf("cannot cancel a batch with status %s", status))
		return
	}
	var errs bytes.Buffer
	for i, req := range b.reqs {
		l := batchLine{ID: "batch_req_" + hashID(b.obj.ID, strconv.Itoa(i)), CustomID: req.CustomID,
			Error: &lineError{Code: "batch_cancelled", Message: "This request was not executed because the batch was cancelled."}}
		line, _ := json.Marshal(l) // plain values
		errs.Write(line)
		errs.WriteByte('\n')
	}
	fid := a.addFile(b.obj.ID+"_error.jsonl", "batch_output", errs.Bytes(), now).obj.ID
	b.obj.ErrorFileID = &fid
	b.obj.Status = "cancelled"
	b.obj.CancellingAt, b.obj.CancelledAt = unix(now), unix(now)
	b.obj.RequestCounts.Failed = len(b.reqs)
	obj := b.obj
	a.mu.Unlock()
	a.s.count(func(st *Stats) { st.Batch.Cancelled++; st.Batch.ItemsCancelled += int64(len(b.reqs)) })
	writeJSON(w, http.StatusOK, obj)
}

// list serves GET /v1/batches?after=ID&limit=N: newest first, N from 1 to
// 100 (default 20), after the batch ID of the previous page.
func (a *batchAPI) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeError(w, http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("limit %q is not in [1, 100]", v))
			return
		}
		limit = n
	}
	after := q.Get("after")
	now := a.now()
	a.mu.Lock()
	next := len(a.order) - 1 // the newest
	if after != "" {
		i := slices.IndexFunc(a.order, func(b *batch) bool { return b.obj.ID == after })
		if i < 0 {
			a.mu.Unlock()
			notFound(w, "Batch", after)
			return
		}
		next = i - 1
	}
	data := []batchObject{}
	for ; next >= 0 && len(data) < limit; next-- {
		a.advance(a.order[next], now)
		data = append(data, a.order[next].obj)
	}
	more := next >= 0
	a.mu.Unlock()
	var first, last *string
	if len(data) > 0 {
		first, last = &data[0].ID, &data[len(data)-1].ID
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": more})
}

// errorBody is the body of an error answer, as writeError writes it.
func errorBody(status int, typ, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": status}}
}

// answerChat answers a chat completion request body as POST
// /v1/chat/completions does, but at once, without capacity limits or
// faults and without counting it as an online request: the HTTP status,
// the response body and the usage of an answer.
func (s *Server) answerChat(body []byte, created int64) (int, any, usage) {
	req, c, promptBytes, err := parseChat(body)
	if err != nil {
		return http.StatusBadRequest, errorBody(http.StatusBadRequest, "invalid_request_error", err.Error()), usage{}
	}
	a, finish := s.limit(req, s.reply(c), "stop")
	u := s.usageOf(req.Model, c, promptBytes, a)
	return http.StatusOK, s.completion(req, a, finish, u, created, chatID(sha256.Sum256(body))), u
}

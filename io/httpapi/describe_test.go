package httpapi

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type testRetry struct{ MaxRetries int }

type testConfig struct {
	BaseURL string
	APIKey  string
	Model   string
	TopP    float32
	Timeout time.Duration
	testRetry
	secret string
}

func TestDescribeKeepsSecretsOut(t *testing.T) {
	c := testConfig{BaseURL: "http://user:pw@host/v1", APIKey: "sk-secret", Model: "m", TopP: 0.5,
		Timeout: time.Second, testRetry: testRetry{MaxRetries: 3}, secret: "hidden"}
	got := Describe(c)
	want := "httpapi.testConfig{BaseURL:" + RedactURL(c.BaseURL) + " APIKey:" + RedactKey(c.APIKey) + " Model:m TopP:0.5 Timeout:1s MaxRetries:3}"
	if got != want {
		t.Errorf("Describe = %s\nwant       %s", got, want)
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("cfg", "c", LogValue(c))
	for _, s := range []string{got, logs.String()} {
		if strings.Contains(s, "sk-secret") || strings.Contains(s, "pw@") || strings.Contains(s, "hidden") {
			t.Errorf("a secret shows: %s", s)
		}
	}
	for _, key := range []string{"c.base_url=", "c.api_key=", "c.top_p=0.5", "c.max_retries=3"} {
		if !strings.Contains(logs.String(), key) {
			t.Errorf("log %q lacks %s", logs.String(), key)
		}
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{"BaseURL": "base_url", "APIKey": "api_key", "TopP": "top_p",
		"MaxConcurrent": "max_concurrent", "RequestsPerMinute": "requests_per_minute", "Dim": "dim"} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}

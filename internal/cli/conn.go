package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"go.temporal.io/sdk/client"

	"github.com/zeroner/zeroner/io/httpapi"
)

// connFlags are the flags that say how to reach Temporal, with their
// environment variables. The connection's flags and variables are named as
// the temporal command line names its own, so one environment serves both.
type connFlags struct {
	address, namespace, taskQueue string

	tls                       optBool // unset: on when a TLS option or an API key is given
	certPath, keyPath, caPath string
	serverName                string
	noHostCheck               optBool
	// apiKey is held by pointer so that printing a struct that holds
	// connFlags shows an address, never the key.
	apiKey *secret

	identity string // the client's in workflow histories; empty: the SDK's pid@host
}

func (c *connFlags) register(fs *flag.FlagSet, env Env) {
	fs.StringVar(&c.address, "address", envOr(env, "TEMPORAL_ADDRESS", "127.0.0.1:7233"), "Temporal frontend `host:port` (env TEMPORAL_ADDRESS)")
	fs.StringVar(&c.namespace, "namespace", envOr(env, "TEMPORAL_NAMESPACE", "default"), "Temporal `namespace` (env TEMPORAL_NAMESPACE)")
	fs.StringVar(&c.taskQueue, "task-queue", envOr(env, "ZERONER_TASK_QUEUE", "zeroner"), "Temporal task `queue` (env ZERONER_TASK_QUEUE)")
	c.tls.fromEnv(env, "TEMPORAL_TLS")
	fs.Var(&c.tls, "tls", "connect with TLS; on by itself with any --tls-* option or an API key, off with --tls=false (env TEMPORAL_TLS)")
	fs.StringVar(&c.certPath, "tls-cert-path", envOr(env, "TEMPORAL_TLS_CLIENT_CERT_PATH", ""), "client certificate PEM `file` for mutual TLS, with --tls-key-path (env TEMPORAL_TLS_CLIENT_CERT_PATH)")
	fs.StringVar(&c.keyPath, "tls-key-path", envOr(env, "TEMPORAL_TLS_CLIENT_KEY_PATH", ""), "client private key PEM `file` for mutual TLS (env TEMPORAL_TLS_CLIENT_KEY_PATH)")
	fs.StringVar(&c.caPath, "tls-ca-path", envOr(env, "TEMPORAL_TLS_SERVER_CA_CERT_PATH", ""), "PEM `file` of the CA that signed the server's certificate; empty: the system's roots (env TEMPORAL_TLS_SERVER_CA_CERT_PATH)")
	fs.StringVar(&c.serverName, "tls-server-name", envOr(env, "TEMPORAL_TLS_SERVER_NAME", ""), "`name` the server's certificate must have; empty: the host of --address (env TEMPORAL_TLS_SERVER_NAME)")
	c.noHostCheck.fromEnv(env, "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION")
	fs.Var(&c.noHostCheck, "tls-disable-host-verification", "accept any server certificate, for tests only (env TEMPORAL_TLS_DISABLE_HOST_VERIFICATION)")
	c.apiKey = &secret{s: envOr(env, "TEMPORAL_API_KEY", "")}
	fs.Var(c.apiKey, "api-key", "API `key` sent with every request; turns TLS on. Prefer the variable: a flag shows in the process list (env TEMPORAL_API_KEY)")
}

// useLocal points c at the embedded server at addr, which speaks plain gRPC
// on loopback: no TLS, and no API key, which is the cluster's.
func (c *connFlags) useLocal(addr string) {
	c.address = addr
	c.tls = optBool{set: true}
	c.certPath, c.keyPath, c.caPath, c.serverName = "", "", "", ""
	c.noHostCheck = optBool{}
	c.apiKey = nil
}

// clientOptions are the SDK's options for c, without logger or metrics. A
// wrong option (a file that cannot be read, a key without its certificate)
// is a usage error that names it.
func (c connFlags) clientOptions() (client.Options, error) {
	opts := client.Options{HostPort: c.address, Namespace: c.namespace, Identity: c.identity}
	cfg, err := c.tlsConfig()
	if err != nil {
		return client.Options{}, withCode(ExitUsage, err)
	}
	opts.ConnectionOptions.TLS = cfg
	// Off when asked, even with an API key (a proxy on loopback that adds
	// TLS): the SDK would otherwise turn it on for the key.
	opts.ConnectionOptions.TLSDisabled = cfg == nil && c.tls.set
	if key := c.apiKey.value(); key != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(key)
	}
	return opts, nil
}

// tlsConfig is the TLS configuration c asks for, nil for plain gRPC.
func (c connFlags) tlsConfig() (*tls.Config, error) {
	on, err := c.tlsWanted()
	if !on || err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.serverName, InsecureSkipVerify: c.noHostCheck.v}
	if c.certPath != "" {
		cert, err := loadKeyPair(c.certPath, c.keyPath)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if c.caPath != "" {
		b, err := os.ReadFile(c.caPath)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca-path: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--tls-ca-path %s: no PEM certificate in it", c.caPath)
		}
	}
	return cfg, nil
}

// tlsWanted says whether c asks for TLS: as --tls says, if given; else
// when any TLS option or an API key is. Options that contradict each other
// are an error.
func (c connFlags) tlsWanted() (bool, error) {
	for _, err := range []error{c.tls.err, c.noHostCheck.err} {
		if err != nil {
			return false, err
		}
	}
	switch {
	case c.keyPath != "" && c.certPath == "":
		return false, errors.New("--tls-key-path needs --tls-cert-path")
	case c.certPath != "" && c.keyPath == "":
		return false, errors.New("--tls-cert-path needs --tls-key-path")
	}
	opt := c.tlsOption()
	if c.tls.set && !c.tls.v {
		if opt != "" {
			return false, fmt.Errorf("--tls=false with %s: that option needs TLS", opt)
		}
		return false, nil
	}
	return c.tls.v || opt != "" || c.apiKey.value() != "", nil
}

// tlsOption names the first TLS option given, or is "".
func (c connFlags) tlsOption() string {
	switch {
	case c.certPath != "":
		return "--tls-cert-path"
	case c.keyPath != "":
		return "--tls-key-path"
	case c.caPath != "":
		return "--tls-ca-path"
	case c.serverName != "":
		return "--tls-server-name"
	case c.noHostCheck.v:
		return "--tls-disable-host-verification"
	}
	return ""
}

func loadKeyPair(certPath, keyPath string) (tls.Certificate, error) {
	cert, err := os.ReadFile(certPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--tls-cert-path: %w", err)
	}
	key, err := os.ReadFile(keyPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--tls-key-path: %w", err)
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--tls-cert-path %s with --tls-key-path %s: %w", certPath, keyPath, err)
	}
	return pair, nil
}

// security says how c connects, for logs: the key itself never.
func (c connFlags) security() string {
	on, _ := c.tlsWanted()
	s := "plain gRPC"
	switch {
	case on && c.certPath != "":
		s = "mutual TLS"
	case on:
		s = "TLS"
	}
	if c.apiKey.value() != "" {
		s += ", API key"
	}
	return s
}

// optBool is a boolean flag that knows whether it was given, on the command
// line or in its environment variable.
type optBool struct {
	v, set bool
	err    error // the variable's value is not a boolean
}

// fromEnv sets b from the variable key, if set.
func (b *optBool) fromEnv(env Env, key string) {
	v := strings.TrimSpace(env.Getenv(key))
	if v == "" {
		return
	}
	if err := b.Set(v); err != nil {
		b.err = fmt.Errorf("%s=%q: want true or false", key, v)
	}
}

func (b *optBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.v, b.set, b.err = v, true, nil
	return nil
}

func (b *optBool) String() string   { return strconv.FormatBool(b != nil && b.v) }
func (b *optBool) IsBoolFlag() bool { return true }

// secret is a flag whose value fmt, slog and --help never show.
type secret struct{ s string }

func (k *secret) Set(s string) error {
	k.s = strings.TrimSpace(s)
	return nil
}

// value is the secret itself, for the one place that sends it.
func (k *secret) value() string {
	if k == nil {
		return ""
	}
	return k.s
}

func (k *secret) String() string       { return httpapi.RedactKey(k.value()) }
func (k *secret) GoString() string     { return k.String() }
func (k *secret) LogValue() slog.Value { return slog.StringValue(k.String()) }

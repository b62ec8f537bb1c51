package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// pki is a throwaway CA with a server and a client certificate it signed,
// as PEM files in a folder.
type pki struct {
	ca, serverCert, serverKey, clientCert, clientKey, otherKey string
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "zeroner test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(serial int64, name string, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	srvDER, srvKey := leaf(2, "temporal.test", x509.ExtKeyUsageServerAuth)
	cliDER, cliKey := leaf(3, "worker-1", x509.ExtKeyUsageClientAuth)
	return pki{
		ca:         write("ca.pem", "CERTIFICATE", caDER),
		serverCert: write("server.pem", "CERTIFICATE", srvDER),
		serverKey:  write("server.key", "EC PRIVATE KEY", keyDER(srvKey)),
		clientCert: write("client.pem", "CERTIFICATE", cliDER),
		clientKey:  write("client.key", "EC PRIVATE KEY", keyDER(cliKey)),
		otherKey:   write("other.key", "EC PRIVATE KEY", keyDER(newKey(t))),
	}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// parseConn parses args and the variables env as a command's connection
// flags.
func parseConn(args []string, vars map[string]string) (connFlags, error) {
	env := Env{Stderr: &bytes.Buffer{}, Getenv: func(k string) string { return vars[k] }}
	fs := newFlagSet("test", "", env)
	var c connFlags
	c.register(fs, env)
	return c, fs.Parse(args)
}

func TestConnFlags(t *testing.T) {
	p := newPKI(t)
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		// what the SDK gets
		tls, tlsOff, creds bool
		certs              int
		check              func(t *testing.T, c connFlags, cfg *tls.Config)
	}{
		{name: "nothing: plain gRPC on the default address",
			check: func(t *testing.T, c connFlags, _ *tls.Config) {
				if c.address != "127.0.0.1:7233" || c.namespace != "default" || c.taskQueue != "zeroner" {
					t.Errorf("address %q namespace %q queue %q", c.address, c.namespace, c.taskQueue)
				}
			}},
		{name: "address and namespace from the environment",
			env: map[string]string{"TEMPORAL_ADDRESS": "t.example:7233", "TEMPORAL_NAMESPACE": "ner"},
			check: func(t *testing.T, c connFlags, _ *tls.Config) {
				if c.address != "t.example:7233" || c.namespace != "ner" {
					t.Errorf("address %q namespace %q", c.address, c.namespace)
				}
			}},
		{name: "--tls alone", args: []string{"--tls"}, tls: true},
		{name: "TEMPORAL_TLS=true", env: map[string]string{"TEMPORAL_TLS": "true"}, tls: true},
		{name: "TEMPORAL_TLS=false", env: map[string]string{"TEMPORAL_TLS": "false"}, tlsOff: true},
		{name: "TEMPORAL_TLS not a boolean", env: map[string]string{"TEMPORAL_TLS": "yes please"}, wantErr: `TEMPORAL_TLS="yes please"`},
		{name: "--tls overrides a bad TEMPORAL_TLS", args: []string{"--tls=true"}, env: map[string]string{"TEMPORAL_TLS": "maybe"}, tls: true},
		{name: "--tls not a boolean", args: []string{"--tls=maybe"}, wantErr: "-tls"},
		{name: "API key from the environment turns TLS on", env: map[string]string{"TEMPORAL_API_KEY": "k1"}, tls: true, creds: true},
		{name: "--api-key turns TLS on", args: []string{"--api-key", "k1"}, tls: true, creds: true},
		{name: "API key with --tls=false", args: []string{"--api-key", "k1", "--tls=false"}, tlsOff: true, creds: true},
		{name: "mutual TLS from flags", args: []string{"--tls-cert-path", p.clientCert, "--tls-key-path", p.clientKey, "--tls-ca-path", p.ca},
			tls: true, certs: 1,
			check: func(t *testing.T, _ connFlags, cfg *tls.Config) {
				if cfg.RootCAs == nil {
					t.Error("no root CAs from --tls-ca-path")
				}
			}},
		{name: "mutual TLS from the environment",
			env: map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": p.clientCert, "TEMPORAL_TLS_CLIENT_KEY_PATH": p.clientKey, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": p.ca},
			tls: true, certs: 1},
		{name: "server name", args: []string{"--tls-server-name", "temporal.test"}, tls: true,
			check: func(t *testing.T, _ connFlags, cfg *tls.Config) {
				if cfg.ServerName != "temporal.test" || cfg.InsecureSkipVerify {
					t.Errorf("server name %q, skip verify %v", cfg.ServerName, cfg.InsecureSkipVerify)
				}
			}},
		{name: "server name from the environment", env: map[string]string{"TEMPORAL_TLS_SERVER_NAME": "temporal.test"}, tls: true,
			check: func(t *testing.T, _ connFlags, cfg *tls.Config) {
				if cfg.ServerName != "temporal.test" {
					t.Errorf("server name %q", cfg.ServerName)
				}
			}},
		{name: "no host verification", env: map[string]string{"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "true"}, tls: true,
			check: func(t *testing.T, _ connFlags, cfg *tls.Config) {
				if !cfg.InsecureSkipVerify {
					t.Error("host verification still on")
				}
			}},
		{name: "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION not a boolean", env: map[string]string{"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "2"},
			wantErr: "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION"},
		{name: "key without certificate", args: []string{"--tls-key-path", p.clientKey}, wantErr: "--tls-key-path needs --tls-cert-path"},
		{name: "certificate without key", args: []string{"--tls-cert-path", p.clientCert}, wantErr: "--tls-cert-path needs --tls-key-path"},
		{name: "unreadable certificate", args: []string{"--tls-cert-path", p.clientCert + ".missing", "--tls-key-path", p.clientKey},
			wantErr: "--tls-cert-path: open " + p.clientCert + ".missing"},
		{name: "unreadable key", args: []string{"--tls-cert-path", p.clientCert, "--tls-key-path", p.clientKey + ".missing"},
			wantErr: "--tls-key-path: open " + p.clientKey + ".missing"},
		{name: "key of another certificate", args: []string{"--tls-cert-path", p.clientCert, "--tls-key-path", p.otherKey},
			wantErr: "--tls-cert-path " + p.clientCert + " with --tls-key-path " + p.otherKey + ": tls: private key does not match public key"},
		{name: "key given as certificate", args: []string{"--tls-cert-path", p.clientKey, "--tls-key-path", p.clientKey},
			wantErr: "--tls-cert-path " + p.clientKey},
		{name: "unreadable CA", args: []string{"--tls-ca-path", p.ca + ".missing"}, wantErr: "--tls-ca-path: open " + p.ca + ".missing"},
		{name: "CA file with no certificate", args: []string{"--tls-ca-path", p.clientKey}, wantErr: "--tls-ca-path " + p.clientKey + ": no PEM certificate"},
		{name: "--tls=false with a CA", args: []string{"--tls=false", "--tls-ca-path", p.ca}, wantErr: "--tls=false with --tls-ca-path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConn(tt.args, tt.env)
			if err != nil {
				wantError(t, err, tt.wantErr)
				return
			}
			o, err := c.clientOptions()
			if wantError(t, err, tt.wantErr) {
				if exitCode(err) != ExitUsage || strings.Contains(err.Error(), "\n") {
					t.Errorf("exit code %d, error %q: want %d and one line", exitCode(err), err, ExitUsage)
				}
				return
			}
			cfg := o.ConnectionOptions.TLS
			if (cfg != nil) != tt.tls || o.ConnectionOptions.TLSDisabled != tt.tlsOff || (o.Credentials != nil) != tt.creds {
				t.Errorf("TLS %v, TLS disabled %v, credentials %v; want %v, %v, %v",
					cfg != nil, o.ConnectionOptions.TLSDisabled, o.Credentials != nil, tt.tls, tt.tlsOff, tt.creds)
			}
			if cfg != nil && len(cfg.Certificates) != tt.certs {
				t.Errorf("%d client certificates, want %d", len(cfg.Certificates), tt.certs)
			}
			if tt.check != nil {
				tt.check(t, c, cfg)
			}
		})
	}
}

// The configuration the flags build does a real handshake with a server
// that requires a client certificate, and fails where it should.
func TestTLSHandshake(t *testing.T) {
	p := newPKI(t)
	srvCert, err := tls.LoadX509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(readTestFile(t, p.ca))
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{srvCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				if conn.(*tls.Conn).Handshake() == nil {
					conn.Write([]byte("k"))
				}
			}()
		}
	}()
	mtls := []string{"--tls-cert-path", p.clientCert, "--tls-key-path", p.clientKey}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "mutual TLS", args: append([]string{"--tls-ca-path", p.ca, "--tls-server-name", "temporal.test"}, mtls...)},
		{name: "wrong server name", args: append([]string{"--tls-ca-path", p.ca, "--tls-server-name", "other.test"}, mtls...),
			wantErr: "certificate is valid for temporal.test"},
		{name: "wrong server name, host verification off", args: append([]string{"--tls-ca-path", p.ca, "--tls-server-name", "other.test",
			"--tls-disable-host-verification"}, mtls...)},
		{name: "server CA unknown", args: append([]string{"--tls-server-name", "temporal.test"}, mtls...), wantErr: "unknown authority"},
		{name: "no client certificate", args: []string{"--tls-ca-path", p.ca, "--tls-server-name", "temporal.test"}, wantErr: "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConn(tt.args, nil)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := c.tlsConfig()
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, handshake(ln.Addr().String(), cfg), tt.wantErr)
		})
	}
}

// handshake dials addr with cfg and reads the byte the server sends after
// a handshake it accepts: with TLS 1.3 the client learns only then whether
// the server took its certificate.
func handshake(addr string, cfg *tls.Config) error {
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = conn.Read(make([]byte, 1))
	return err
}

func readTestFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The API key shows nowhere: not in --help with it in the environment, not
// when the flags are printed or logged, not in a connection error.
func TestAPIKeyNeverShown(t *testing.T) {
	const key = "tk-zeroner-0123456789"
	vars := map[string]string{"TEMPORAL_API_KEY": key}
	var help bytes.Buffer
	Main(context.Background(), []string{"worker", "--help"}, Env{Stdout: &help, Stderr: &help, Getenv: func(k string) string { return vars[k] }})
	if !strings.Contains(help.String(), "TEMPORAL_API_KEY") {
		t.Errorf("worker --help does not mention TEMPORAL_API_KEY:\n%s", help.String())
	}

	c, err := parseConn([]string{"--api-key", key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	holder := struct {
		conn connFlags
		Conn connFlags
	}{c, c}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("conn", "key", c.apiKey, "flags", holder)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("conn", "key", c.apiKey, "flags", holder)
	shown := map[string]string{
		"--help":     help.String(),
		"fmt":        fmt.Sprintf("%v %+v %#v %s %q", holder, holder, holder, c.apiKey, c.apiKey),
		"slog":       logs.String(),
		"security()": c.security(),
	}
	// A server that cannot be reached: the dial's error.
	c.address = "127.0.0.1:1"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := dialWith(ctx, c, slog.New(slog.DiscardHandler), nil); err == nil {
		t.Error("dial of a closed port succeeded")
	} else {
		shown["dial error"] = err.Error()
	}
	for where, s := range shown {
		if strings.Contains(s, key) {
			t.Errorf("%s shows the API key: %s", where, s)
		}
	}
	if c.apiKey.value() != key {
		t.Errorf("the key is %q, want %q", c.apiKey.value(), key)
	}
}

// A wrong option stops a command with exit 2 and one line naming it, before
// anything connects.
func TestBadConnOptionExits2(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.pem")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"worker", "--tls-cert-path", missing, "--tls-key-path", missing}, "--tls-cert-path: open " + missing},
		{[]string{"worker", "--tls-key-path", missing}, "--tls-key-path needs --tls-cert-path"},
		{[]string{"status", "--job", "j", "--tls-ca-path", missing}, "--tls-ca-path: open " + missing},
		{[]string{"cancel", "--job", "j", "--tls=false", "--tls-server-name", "x"}, "--tls=false with --tls-server-name"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			env := Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
			code := Main(context.Background(), tt.args, env)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, ExitUsage, stderr.String())
			}
			if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n") + 1; lines != 1 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q: want one line with %q", stderr.String(), tt.want)
			}
		})
	}
}

// The embedded server of --dev speaks plain gRPC: the cluster's TLS options
// and API key, from the environment, are not used with it.
func TestUseLocalDropsClusterOptions(t *testing.T) {
	p := newPKI(t)
	c, err := parseConn(nil, map[string]string{
		"TEMPORAL_API_KEY": "k1", "TEMPORAL_TLS": "true", "TEMPORAL_TLS_SERVER_NAME": "temporal.test",
		"TEMPORAL_TLS_CLIENT_CERT_PATH": p.clientCert, "TEMPORAL_TLS_CLIENT_KEY_PATH": p.clientKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.useLocal("127.0.0.1:7000")
	o, err := c.clientOptions()
	if err != nil {
		t.Fatal(err)
	}
	if o.HostPort != "127.0.0.1:7000" || o.ConnectionOptions.TLS != nil || o.Credentials != nil {
		t.Errorf("address %q, TLS %v, credentials %v: want the local address, plain gRPC, no key",
			o.HostPort, o.ConnectionOptions.TLS != nil, o.Credentials != nil)
	}
}

func TestHelpDocumentsConnEnvironment(t *testing.T) {
	vars := []string{"TEMPORAL_TLS", "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH",
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_SERVER_NAME", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION", "TEMPORAL_API_KEY"}
	for _, cmd := range []string{"run", "status", "cancel", "worker"} {
		var out bytes.Buffer
		Main(context.Background(), []string{cmd, "--help"}, Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }})
		for _, v := range vars {
			if !strings.Contains(out.String(), "(env "+v+")") {
				t.Errorf("%s --help does not mention %s", cmd, v)
			}
		}
	}
}

// frontend answers the one call the SDK makes when it connects, and
// records the API key and client certificate it came with.
type frontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
	mu         sync.Mutex
	auth       []string
	clientName string
}

func (f *frontend) GetSystemInfo(ctx context.Context, _ *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auth = md.Get("authorization")
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
			f.clientName = ti.State.PeerCertificates[0].Subject.CommonName
		}
	}
	return &workflowservice.GetSystemInfoResponse{}, nil
}

// The SDK connects with what the flags build: over TLS to a frontend with
// a private CA, presenting the client certificate and the API key.
func TestDialWithTLSAndAPIKey(t *testing.T) {
	p := newPKI(t)
	srvCert, err := tls.LoadX509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(readTestFile(t, p.ca))
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{srvCert}, ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven,
	})))
	fe := &frontend{}
	workflowservice.RegisterWorkflowServiceServer(srv, fe)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Stop()

	const key = "tk-dial-test"
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantErr    string
		auth, cert string
	}{
		{name: "mutual TLS and API key", args: []string{"--tls-ca-path", p.ca, "--tls-server-name", "temporal.test",
			"--tls-cert-path", p.clientCert, "--tls-key-path", p.clientKey}, env: map[string]string{"TEMPORAL_API_KEY": key},
			auth: "Bearer " + key, cert: "worker-1"},
		{name: "API key alone, server verified by the CA", args: []string{"--tls-ca-path", p.ca, "--tls-server-name", "temporal.test", "--api-key", key},
			auth: "Bearer " + key},
		{name: "plain gRPC to a TLS server", wantErr: "connect to Temporal at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConn(append([]string{"--address", ln.Addr().String()}, tt.args...), tt.env)
			if err != nil {
				t.Fatal(err)
			}
			fe.mu.Lock()
			fe.auth, fe.clientName = nil, ""
			fe.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			cl, err := dialWith(ctx, c, slog.New(slog.DiscardHandler), nil)
			if wantError(t, err, tt.wantErr) {
				return
			}
			cl.Close()
			fe.mu.Lock()
			defer fe.mu.Unlock()
			if len(fe.auth) != 1 || fe.auth[0] != tt.auth || fe.clientName != tt.cert {
				t.Errorf("the server saw authorization %q and client certificate %q; want %q and %q", fe.auth, fe.clientName, tt.auth, tt.cert)
			}
		})
	}
}

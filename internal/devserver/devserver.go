// Package devserver runs a single-process Temporal server that keeps its
// state in a SQLite file, for `starter run --dev`. Workflows survive a
// restart on the same file.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/primitives/timestamp"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// devHistoryCache bounds the embedded server's cache of workflow state, in
// workflows.
const devHistoryCache = 512

const (
	clusterName = "active"
	// retentionDays is how long closed workflows stay visible: long enough to
	// inspect yesterday's run, short enough to keep the file small.
	retentionDays = 3
	// internalHost is where history, matching and worker listen: only the
	// frontend needs to be reachable from outside the process.
	internalHost = "127.0.0.1"
)

// Options configures a dev server.
type Options struct {
	DBPath    string       // SQLite file; created if missing
	Namespace string       // default "default"
	Host      string       // IP address of the frontend; default "127.0.0.1"
	Port      int          // frontend gRPC port; 0 picks a free one (the other services always get free ports)
	Logger    *slog.Logger // server logs go here at warn level and above (it is very chatty); nil discards
}

// Server is a running dev server.
type Server struct {
	srv       temporal.Server
	addr      string
	namespace string
	stopping  *atomic.Bool // shared with the server's logger

	stopOnce sync.Once
	stopErr  error
}

// Start sets up the database if the file is new, registers the namespace and
// starts all Temporal services in this process. If ctx ends first, Start
// returns its error and stops the server in the background once it is up.
func Start(ctx context.Context, opt Options) (*Server, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dev server: start: %w", err)
	}

	eps := []endpoint{
		{primitives.FrontendService, opt.Host, opt.Port},
		{primitives.HistoryService, internalHost, 0},
		{primitives.MatchingService, internalHost, 0},
		{primitives.WorkerService, internalHost, 0},
	}
	if err := pickPorts(eps); err != nil {
		return nil, err
	}
	hosts := make(map[primitives.ServiceName]static.Hosts, len(eps))
	for _, e := range eps {
		hosts[e.service] = static.SingleLocalHost(e.addr())
	}
	addr := eps[0].addr()

	db := sqliteConfig(opt.DBPath)
	if err := prepareDB(db, opt.Namespace); err != nil {
		return nil, err
	}

	stopping := new(atomic.Bool)
	serverOpts := []temporal.ServerOption{
		temporal.WithConfig(serverConfig(db, eps)),
		temporal.ForServices(temporal.DefaultServices),
		// Static membership: no gossip ring to rejoin after a restart.
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(slogger{l: opt.Logger, stopping: stopping}),
		temporal.WithAuthorizer(authorization.NewNoopAuthorizer()),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper {
			return authorization.NewNoopClaimMapper()
		}),
		temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{
			// Search attributes added by a dev run are usable at once.
			dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
			// The history cache keeps every workflow touched in the last
			// hour, up to 128,000 by default: a large job's thousands of
			// finished shard workflows made the process grow with the
			// corpus. A job has its window of shards in flight.
			dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): devHistoryCache,
		}),
	}

	type result struct {
		srv temporal.Server
		err error
	}
	done := make(chan result, 1)
	go func() {
		srv, err := launch(serverOpts)
		done <- result{srv, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, r.err
		}
		return &Server{srv: r.srv, addr: addr, namespace: opt.Namespace, stopping: stopping}, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.err == nil {
				stopping.Store(true)
				_ = r.srv.Stop()
			}
		}()
		return nil, fmt.Errorf("dev server: start: %w", context.Cause(ctx))
	}
}

// sqliteConfig is the SQL store on the SQLite file at path.
func sqliteConfig(path string) *config.SQL {
	return &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: path,
		// Unknown keys become pragmas. WAL with synchronous=normal survives a
		// process crash; only an OS crash can lose the last transactions.
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  "normal",
		},
	}
}

// Address returns the frontend's host:port.
func (s *Server) Address() string { return s.addr }

// Namespace returns the namespace registered at start.
func (s *Server) Namespace() string { return s.namespace }

// Stop stops all services. It is safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.stopping.Store(true)
		if err := s.srv.Stop(); err != nil {
			s.stopErr = fmt.Errorf("dev server: stop: %w", err)
		}
	})
	return s.stopErr
}

func (o Options) withDefaults() (Options, error) {
	if o.DBPath == "" {
		return o, errors.New("dev server: DBPath is required")
	}
	// The SQLite driver takes the name as part of a URI.
	if strings.ContainsAny(o.DBPath, "?#") {
		return o, fmt.Errorf("dev server: DBPath %q must not contain '?' or '#'", o.DBPath)
	}
	abs, err := filepath.Abs(o.DBPath)
	if err != nil {
		return o, fmt.Errorf("dev server: DBPath: %w", err)
	}
	o.DBPath = abs
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if net.ParseIP(o.Host) == nil {
		return o, fmt.Errorf("dev server: Host %q is not an IP address", o.Host)
	}
	if o.Port < 0 || o.Port > 65535 {
		return o, fmt.Errorf("dev server: Port %d out of range", o.Port)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// prepareDB creates the schema if the file is new and registers the
// namespace (a no-op when it exists already).
func prepareDB(db *config.SQL, namespace string) error {
	_, err := os.Stat(db.DatabaseName)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(db.DatabaseName), 0o755); err != nil {
			return fmt.Errorf("dev server: create directory for database: %w", err)
		}
		if err := sqlite.SetupSchema(db); err != nil {
			return fmt.Errorf("dev server: set up schema in %s (delete the file to retry): %w", db.DatabaseName, err)
		}
	case err != nil:
		return fmt.Errorf("dev server: %w", err)
	}

	ns, err := sqlite.NewNamespaceConfig(clusterName, namespace, false, nil)
	if err != nil {
		return fmt.Errorf("dev server: namespace %q: %w", namespace, err)
	}
	ns.Detail.Config.Retention = timestamp.DurationFromDays(retentionDays)
	if err := sqlite.CreateNamespaces(db, ns); err != nil {
		return fmt.Errorf("dev server: register namespace %q: %w", namespace, err)
	}
	return nil
}

// serverConfig builds the static configuration; eps[0] is the frontend.
func serverConfig(db *config.SQL, eps []endpoint) *config.Config {
	services := make(map[string]config.Service, len(eps))
	for _, e := range eps {
		services[string(e.service)] = config.Service{RPC: config.RPC{GRPCPort: e.port, BindOnIP: e.host}}
	}
	frontend := eps[0].addr()

	return &config.Config{
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores: map[string]config.DataStore{
				sqliteplugin.PluginName: {SQL: db},
			},
		},
		ClusterMetadata: &cluster.Config{
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {
					Enabled:                true,
					InitialFailoverVersion: 1,
					RPCAddress:             frontend,
				},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services:            services,
		Archival: config.Archival{
			History:    config.HistoryArchival{State: config.ArchivalDisabled},
			Visibility: config.VisibilityArchival{State: config.ArchivalDisabled},
		},
		NamespaceDefaults: config.NamespaceDefaults{
			Archival: config.ArchivalNamespaceDefaults{
				History:    config.HistoryArchivalNamespaceDefaults{State: config.ArchivalDisabled},
				Visibility: config.VisibilityArchivalNamespaceDefaults{State: config.ArchivalDisabled},
			},
		},
		// The worker service's SDK client dials this.
		PublicClient: config.PublicClient{HostPort: frontend},
	}
}

// launch creates and starts the server. The server reports some start-up
// failures, such as a port in use, through Logger.Fatal, which slogger turns
// into a panic; it is recovered here.
func launch(opts []temporal.ServerOption) (srv temporal.Server, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("dev server: %v", p)
		}
	}()
	srv, err = temporal.NewServer(opts...)
	if err != nil {
		return nil, fmt.Errorf("dev server: create: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("dev server: start: %w", err)
	}
	return srv, nil
}

// endpoint is where one service listens for gRPC.
type endpoint struct {
	service primitives.ServiceName
	host    string
	port    int
}

func (e endpoint) addr() string { return net.JoinHostPort(e.host, strconv.Itoa(e.port)) }

// pickPorts gives every endpoint without a port a free one. All probe
// listeners stay open until every port is picked, so no port is handed out
// twice; another process may still take one before the server binds it.
func pickPorts(eps []endpoint) error {
	for i := range eps {
		if eps[i].port != 0 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(eps[i].host, "0"))
		if err != nil {
			return fmt.Errorf("dev server: find free port for %s: %w", eps[i].service, err)
		}
		defer l.Close()
		eps[i].port = l.Addr().(*net.TCPAddr).Port
	}
	return nil
}

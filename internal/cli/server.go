package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/server"
	"github.com/coffer-dev/coffer/internal/version"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// runServer runs "coffer server": it loads the configuration, opens
// storage and listeners, and serves until SIGINT or SIGTERM. SIGHUP
// reloads TLS certificates and the log level.
func runServer(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var configs stringList
	fs.Var(&configs, "config", "Path to a configuration file or directory; may be repeated.")
	dev := fs.Bool("dev", false, "Start an in-memory, unsealed development server.")
	devRoot := fs.String("dev-root-token-id", "", "Initial root token ID in dev mode.")
	devListen := fs.String("dev-listen-address", "127.0.0.1:8200", "Address to bind to in dev mode.")
	logLevel := fs.String("log-level", "", "Log level: trace, debug, info, warn or error.")
	logFormat := fs.String("log-format", "", "Log format: standard or json.")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if *dev && *devRoot == "" {
		*devRoot = os.Getenv("VAULT_DEV_ROOT_TOKEN_ID")
	}
	if *dev && os.Getenv("VAULT_DEV_LISTEN_ADDRESS") != "" && !flagGiven(fs, "dev-listen-address") {
		*devListen = os.Getenv("VAULT_DEV_LISTEN_ADDRESS")
	}

	var cfg *config.Config
	var err error
	switch {
	case *dev:
		cfg = config.DevConfig(*devListen)
	case len(configs) == 0:
		fmt.Fprintln(stderr, "Error: no configuration given: start with -config=FILE (a file or directory of .hcl/.json files), or with -dev for an in-memory development server")
		return 1
	default:
		if cfg, err = config.LoadFiles(configs...); err != nil {
			fmt.Fprintf(stderr, "Error loading configuration:\n%v\n", err)
			return 1
		}
	}
	if *logLevel != "" {
		cfg.LogLevel = *logLevel
	}
	if *logFormat != "" {
		cfg.LogFormat = *logFormat
	}
	level := new(slog.LevelVar)
	if err := setLevel(level, cfg.LogLevel); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	logger := newLogger(stderr, cfg.LogFormat, level)

	if !cfg.DisableMlock && !*dev {
		if err := lockMemory(); err != nil {
			fmt.Fprintf(stderr, "Error initializing core: failed to lock memory: %v\n\nThis usually means the process lacks the IPC_LOCK capability or RLIMIT_MEMLOCK is too low. Set disable_mlock = true in the configuration to run without it (not recommended in production).\n", err)
			return 1
		}
	}

	ctx := context.Background()
	srv, err := server.New(ctx, cfg, server.Options{Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "Error initializing server: %v\n", err)
		return 1
	}
	if err := srv.Listen(); err != nil {
		fmt.Fprintf(stderr, "Error initializing listener: %v\n", err)
		_ = srv.Shutdown(ctx)
		return 1
	}
	if addr := os.Getenv("COFFER_PPROF_ADDR"); addr != "" {
		if err := servePprof(addr, logger); err != nil {
			fmt.Fprintf(stderr, "Error starting the profiling listener: %v\n", err)
			_ = srv.Shutdown(ctx)
			return 1
		}
	}
	printBanner(stdout, cfg, srv, *dev)

	if *dev {
		res, err := srv.SetupDev(ctx, *devRoot)
		if err != nil {
			fmt.Fprintf(stderr, "Error initializing dev mode: %v\n", err)
			_ = srv.Shutdown(ctx)
			return 1
		}
		if err := (tokenHelper{}).store(res.RootToken); err != nil {
			logger.Warn("could not store the root token in the token helper", "error", err)
		}
		printDevInfo(stdout, srv.URL(), base64.StdEncoding.EncodeToString(res.Keys[0]), res.RootToken)
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			fmt.Fprintln(stdout, "==> Coffer reload triggered")
			reload(logger, level, configs, *dev, srv)
			continue
		}
		fmt.Fprintln(stdout, "==> Coffer shutdown triggered")
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := srv.Shutdown(sctx)
		cancel()
		if err != nil {
			fmt.Fprintf(stderr, "Error during shutdown: %v\n", err)
			return 1
		}
		return 0
	}
	return 0
}

// servePprof serves net/http/pprof on addr (COFFER_PPROF_ADDR, e.g.
// 127.0.0.1:6060), unauthenticated, and turns on mutex and block
// profiling. It is for load tests only and off unless the variable is set.
func servePprof(addr string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	runtime.SetMutexProfileFraction(5)
	runtime.SetBlockProfileRate(10_000)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	logger.Warn("profiling endpoint enabled (COFFER_PPROF_ADDR); it is unauthenticated", "address", ln.Addr().String())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return nil
}

func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			given = true
		}
	})
	return given
}

// reload re-reads the configuration files for the settings that can change
// without a restart: the log level and the listeners' TLS certificates.
func reload(logger *slog.Logger, level *slog.LevelVar, configs []string, dev bool, srv *server.Server) {
	if !dev {
		cfg, err := config.LoadFiles(configs...)
		if err != nil {
			logger.Error("reload: configuration not reloaded", "error", err)
		} else if err := setLevel(level, cfg.LogLevel); err != nil {
			logger.Error("reload: log level not changed", "error", err)
		} else {
			logger.Info("reload: log level set", "level", cfg.LogLevel)
		}
	}
	if err := srv.Reload(context.Background()); err != nil {
		logger.Error("reload: not everything was reloaded", "error", err)
		return
	}
	logger.Info("reload: TLS certificates and audit files reloaded")
}

func setLevel(v *slog.LevelVar, s string) error {
	switch strings.ToLower(s) {
	case "trace", "debug":
		v.Set(slog.LevelDebug)
	case "", "info":
		v.Set(slog.LevelInfo)
	case "warn", "warning":
		v.Set(slog.LevelWarn)
	case "err", "error":
		v.Set(slog.LevelError)
	default:
		return fmt.Errorf("unknown log level %q; accepted: trace, debug, info, warn, error", s)
	}
	return nil
}

func newLogger(w io.Writer, format string, level *slog.LevelVar) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func printBanner(w io.Writer, cfg *config.Config, srv *server.Server, dev bool) {
	storageType := "inmem"
	if cfg.Storage != nil {
		storageType = cfg.Storage.Type
	}
	var listeners []string
	for i, addr := range srv.Addrs() {
		tlsState := "enabled"
		if cfg.Listeners[i].TLSDisable {
			tlsState = "disabled"
		}
		listeners = append(listeners, fmt.Sprintf("tcp (addr: %q, tls: %q)", addr, tlsState))
	}
	rows := map[string]string{
		"Api Address":   srv.URL(),
		"Cgo":           "disabled",
		"Listener 1":    strings.Join(listeners, ", "),
		"Log Level":     cfg.LogLevel,
		"Mlock":         fmt.Sprintf("supported: true, enabled: %v", !cfg.DisableMlock && !dev),
		"Storage":       storageType,
		"Version":       "Coffer v" + version.Version + " (Vault API " + version.APIVersion + ")",
		"Go Version":    goVersion(),
		"Recovery Mode": "false",
	}
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintln(w, "==> Coffer server configuration:")
	fmt.Fprintln(w)
	for _, k := range keys {
		fmt.Fprintf(w, "%24s: %s\n", k, rows[k])
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "==> Coffer server started! Log data will stream in below:")
	fmt.Fprintln(w)
}

func printDevInfo(w io.Writer, addr, key, token string) {
	fmt.Fprintf(w, `WARNING! dev mode is enabled! In this mode, Coffer runs entirely in-memory
and starts unsealed with a single unseal key. The root token is already
authenticated to the CLI, so you can immediately begin using Coffer.

You may need to set the following environment variables:

    $ export VAULT_ADDR='%s'

The unseal key and root token are displayed below in case you want to
seal/unseal Coffer or re-authenticate.

Unseal Key: %s
Root Token: %s

Development mode should NOT be used in production installations!

`, addr, key, token)
}

var errNoMlock = errors.New("mlock is not supported on this platform")

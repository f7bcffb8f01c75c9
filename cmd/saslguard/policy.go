package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/saslguard/saslguard/internal/policy"
)

func init() { register(newPolicyCmd) }

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Postfix policy service that stops relay spam per SASL login",
		Long: `saslguard policy answers Postfix's check_policy_service requests per SASL
login: messages and recipients per minute, hour and day, distinct client
networks and sender domains per hour. A login that trips a "compromised"
rule stays blocked until "saslguard account enable LOGIN".`,
	}
	cmd.AddCommand(newPolicyServeCmd(), newPolicyExampleCmd())
	return cmd
}

type policyFlags struct {
	config   string
	listen   []string
	redis    string
	stateDir string
	metrics  string
}

// loadPolicyConfig reads the config file (if any) and applies the flags.
func loadPolicyConfig(cmd *cobra.Command, f *policyFlags) (policy.Config, error) {
	cfg := policy.DefaultConfig()
	if f.config != "" {
		var err error
		if cfg, err = policy.LoadConfig(f.config); err != nil {
			return cfg, err
		}
	}
	if cmd.Flags().Changed("listen") {
		cfg.Listen = f.listen
	}
	if cmd.Flags().Changed("redis") {
		cfg.Redis = f.redis
	}
	if cmd.Flags().Changed("state-dir") {
		cfg.StateDir = f.stateDir
	}
	if cmd.Flags().Changed("metrics") {
		cfg.Metrics = f.metrics
	}
	return cfg, cfg.Validate()
}

func addPolicyFlags(cmd *cobra.Command, f *policyFlags) {
	cmd.Flags().StringVar(&f.config, "config", "", "TOML configuration file ([policy] section)")
	cmd.Flags().StringVar(&f.redis, "redis", "", "redis-server HOST:PORT shared by the fleet")
	cmd.Flags().StringVar(&f.stateDir, "state-dir", "", "state directory (default /var/lib/saslguard)")
}

func newPolicyServeCmd() *cobra.Command {
	var f policyFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the policy delegation service",
		Example: `  saslguard policy serve --listen tcp:127.0.0.1:10040 --state-dir /var/lib/saslguard
  saslguard policy serve --config /etc/saslguard.toml --redis 127.0.0.1:6379 --metrics 127.0.0.1:9154`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadPolicyConfig(cmd, &f)
			if err != nil {
				return err
			}
			return servePolicy(cmd, &f, cfg)
		},
	}
	addPolicyFlags(cmd, &f)
	cmd.Flags().StringArrayVar(&f.listen, "listen", nil, "address: tcp:HOST:PORT or unix:/PATH (repeatable)")
	cmd.Flags().StringVar(&f.metrics, "metrics", "", "serve Prometheus metrics on HOST:PORT")
	return cmd
}

func servePolicy(cmd *cobra.Command, f *policyFlags, cfg policy.Config) error {
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	svc, err := policy.NewService(cfg, policy.Options{Log: log, Registerer: reg})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := svc.Start(ctx); err != nil {
		return err
	}
	defer svc.Stop()
	var msrv *http.Server
	if cfg.Metrics != "" {
		ln, err := net.Listen("tcp", cfg.Metrics)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		msrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := msrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server stopped", "err", err)
			}
		}()
		log.Info("metrics listening", "addr", ln.Addr().String())
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			log.Info("policy service stopping")
			if msrv != nil {
				msrv.Close()
			}
			return nil
		case <-hup:
			ncfg, err := loadPolicyConfig(cmd, f)
			if err == nil {
				err = svc.Reload(ncfg)
			}
			if err != nil {
				log.Error("reload failed, keeping the running configuration", "err", err)
			}
		}
	}
}

func newPolicyExampleCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "example-config",
		Short: "Print a commented [policy] configuration with the defaults",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), policy.ExampleConfig)
			return err
		},
	}
}

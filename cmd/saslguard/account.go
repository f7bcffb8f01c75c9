package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/saslguard/saslguard/internal/mtablock/postfixblock"
	"github.com/saslguard/saslguard/internal/policy"
	"github.com/saslguard/saslguard/internal/report"
	"github.com/saslguard/saslguard/internal/respond"
	"github.com/saslguard/saslguard/internal/store"
	"github.com/saslguard/saslguard/internal/watch"
)

func init() { register(newAccountCmd) }

func newAccountCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "account",
		Short: "List and lift blocks on SASL logins",
	}
	cmd.AddCommand(newAccountListCmd(), newAccountEnableCmd(), newAccountBlockCmd())
	return cmd
}

// openAccountStore opens the incident store named by the flags/config;
// with existing set only a store that exists (nothing is created).
func openAccountStore(cmd *cobra.Command, f *policyFlags, existing bool) (*store.Store, policy.Config, error) {
	cfg, err := loadPolicyConfig(cmd, f)
	if err != nil {
		return nil, cfg, err
	}
	if existing {
		st, err := store.OpenExistingDir(cfg.StateDir)
		return st, cfg, err
	}
	st, err := store.OpenDir(cfg.StateDir)
	return st, cfg, err
}

// printable quotes a hostile string when it would garble a terminal or
// its column.
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) || r == ' ' || r == '"' {
			return strconv.Quote(s)
		}
	}
	return s
}

// printableText is printable for free text, where spaces are expected.
func printableText(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

func newAccountListCmd() *cobra.Command {
	var f policyFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List blocked logins (by policy, respond, watch or by hand)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, cfg, err := openAccountStore(cmd, &f, true)
			if err != nil {
				return err
			}
			defer st.Close()
			bl, err := st.ListBlocked(cmd.Context())
			if err != nil {
				return err
			}
			if cfg.Redis != "" {
				// Blocks made by the other MTAs of the fleet live in Redis.
				if bl, err = addFleetBlocks(cmd.Context(), cfg, bl); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if bl == nil {
					bl = []store.Block{}
				}
				return enc.Encode(bl)
			}
			tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "LOGIN\tSOURCE\tSINCE\tINCIDENT\tREASON")
			for _, b := range bl {
				inc := "-"
				if b.IncidentID != 0 {
					inc = strconv.FormatInt(b.IncidentID, 10)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", printable(b.Login), printable(b.Source),
					b.Created.Format(time.RFC3339), inc, printableText(b.Reason))
			}
			return tw.Flush()
		},
	}
	addPolicyFlags(cmd, &f)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// addFleetBlocks appends the Redis blocks the local store lacks, with
// source "fleet:SOURCE".
func addFleetBlocks(ctx context.Context, cfg policy.Config, bl []store.Block) ([]store.Block, error) {
	r := policy.NewRedis(cfg.Redis, cfg.RedisPrefix, 2*time.Second, slog.New(slog.DiscardHandler), nil)
	defer r.Close()
	remote, err := r.Blocks(ctx, time.Now())
	if err != nil {
		return nil, fmt.Errorf("list fleet blocks: %w", err)
	}
	have := make(map[string]bool, len(bl))
	for _, b := range bl {
		have[b.Login] = true
	}
	logins := make([]string, 0, len(remote))
	for l := range remote {
		if !have[l] {
			logins = append(logins, l)
		}
	}
	sort.Strings(logins)
	for _, l := range logins {
		rb := remote[l]
		bl = append(bl, store.Block{Login: l, Source: "fleet:" + rb.Source, Reason: rb.Reason, Created: rb.At.UTC()})
	}
	return bl, nil
}

func newAccountEnableCmd() *cobra.Command {
	var f policyFlags
	var pf postfixFlags
	cmd := &cobra.Command{
		Use:   "enable LOGIN",
		Short: "Lift the block on a login, here and (with Redis) fleet-wide",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			login := args[0]
			// a store that does not exist has no block to lift
			st, cfg, err := openAccountStore(cmd, &f, true)
			if err != nil {
				return err
			}
			defer st.Close()
			ctx := cmd.Context()
			// the same lock as respond and its --undo: never lift a block
			// in the middle of a containment
			lock, err := st.Lock(ctx, respond.LockName)
			if err != nil {
				return err
			}
			defer lock.Unlock()
			b, wasBlocked, err := st.IsBlocked(ctx, login)
			if err != nil {
				return err
			}
			if cfg.Redis != "" {
				// Lift it in Redis first: if Redis still had it, every
				// policy service would keep (or put back) the block.
				if err := liftRedis(ctx, cfg, login); err != nil {
					return err
				}
			}
			if wasBlocked && b.Source == watch.Source {
				// watch's contain mode wrote the Postfix map entry itself
				m, err := postfixblock.New(ctx, postfixblock.Config{ConfigDir: pf.configDir, BinDir: pf.binDir, MapPath: pf.mapPath})
				if err != nil {
					return fmt.Errorf("lift the Postfix map entry watch wrote: %w (see --postfix-config)", err)
				}
				if _, err := m.Unblock(ctx, login); err != nil {
					return fmt.Errorf("lift the Postfix map entry watch wrote: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Postfix map entry of %s removed; the mail watch held stays on hold: 'saslguard respond -- %s' cleans it, 'saslguard queue release' releases it\n",
					printable(login), report.ShellQuote(login))
			}
			if wasBlocked {
				if err := st.Unblock(ctx, login); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				if b.IncidentID != 0 {
					st.AddAction(ctx, store.Action{IncidentID: b.IncidentID, Command: "account enable", Result: "block lifted", OK: 1})
				}
			} else if cfg.Redis == "" {
				return fmt.Errorf("login %s is not blocked", printable(login))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s enabled; running policy services apply it within %s\n", printable(login), cfg.SyncInterval)
			if wasBlocked && b.Source == respond.Source && b.IncidentID != 0 {
				// respond also wrote the Postfix map entry and disabled the
				// account: lifting those is its --undo's job (it refuses to
				// re-enable an unchanged password without being told)
				fmt.Fprintf(cmd.OutOrStdout(), "note: incident %d also blocked the login in Postfix's map and disabled it at its account store; run 'saslguard respond --undo %d' to see what lifting those does, with --yes to do it\n", b.IncidentID, b.IncidentID)
			}
			return nil
		},
	}
	addPolicyFlags(cmd, &f)
	cmd.Flags().StringVar(&pf.configDir, "postfix-config", "", "Postfix configuration directory, for blocks watch wrote (default /etc/postfix)")
	cmd.Flags().StringVar(&pf.binDir, "postfix-bin", "", "directory of the Postfix commands (default /usr/sbin)")
	cmd.Flags().StringVar(&pf.mapPath, "map", "", "saslguard's check_sasl_access map (default CONFIG/saslguard_sasl_access)")
	return cmd
}

// postfixFlags name the Postfix instance whose map saslguard manages.
type postfixFlags struct{ configDir, binDir, mapPath string }

func liftRedis(ctx context.Context, cfg policy.Config, login string) error {
	r := policy.NewRedis(cfg.Redis, cfg.RedisPrefix, 2*time.Second, slog.New(slog.DiscardHandler), nil)
	defer r.Close()
	if err := r.RemoveBlock(ctx, login, time.Now()); err != nil {
		return fmt.Errorf("lift block in redis (nothing changed): %w", err)
	}
	// The counts that tripped the block would trip it again at once.
	if err := r.Reset(ctx, login); err != nil {
		return fmt.Errorf("reset counters in redis (block lifted): %w", err)
	}
	return nil
}

func newAccountBlockCmd() *cobra.Command {
	var f policyFlags
	var reason string
	cmd := &cobra.Command{
		Use:   "block LOGIN",
		Short: "Block a login by hand, here and (with Redis) fleet-wide",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, cfg, err := openAccountStore(cmd, &f, false)
			if err != nil {
				return err
			}
			defer st.Close()
			ctx := cmd.Context()
			if _, err := st.Block(ctx, args[0], "manual", reason, 0); err != nil {
				return err
			}
			if cfg.Redis != "" {
				r := policy.NewRedis(cfg.Redis, cfg.RedisPrefix, 2*time.Second, slog.New(slog.DiscardHandler), nil)
				defer r.Close()
				if err := r.AddBlock(ctx, args[0], policy.RedisBlock{Source: "manual", Reason: reason, At: time.Now()}, time.Now()); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: blocked here only, %v (the policy service pushes it when Redis is back)\n", err)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s blocked\n", printable(args[0]))
			return nil
		},
	}
	addPolicyFlags(cmd, &f)
	cmd.Flags().StringVar(&reason, "reason", "blocked by hand", "reason recorded with the block")
	return cmd
}

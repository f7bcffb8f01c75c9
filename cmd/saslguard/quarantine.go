package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/saslguard/saslguard/internal/quarantine"
	"github.com/saslguard/saslguard/internal/report"
	"github.com/saslguard/saslguard/internal/respond"
)

func init() { register(newQuarantineCmd) }

func newQuarantineCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quarantine",
		Short: "List, show and restore the messages respond took out of the queue",
	}
	cmd.AddCommand(newQuarantineListCmd(), newQuarantineShowCmd(), newQuarantineRestoreCmd(), newQuarantinePurgeCmd())
	return cmd
}

func newQuarantineListCmd() *cobra.Command {
	var f mailFlags
	var login string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List quarantined messages",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := openEnv(cmd, &f, true, false)
			if err != nil {
				return err
			}
			defer env.Close()
			es, err := env.Quar.List()
			if err != nil {
				return err
			}
			var sel []quarantine.Entry
			for _, e := range es {
				if login == "" || strings.EqualFold(e.Login, login) {
					sel = append(sel, e)
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if sel == nil {
					sel = []quarantine.Entry{}
				}
				return json.NewEncoder(out).Encode(sel)
			}
			tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tLOGIN\tEXPORTED\tSENDER\tRCPTS\tRESTORED AS")
			for _, e := range sel {
				fmt.Fprintf(tw, "%s\t%s\t%s\t<%s>\t%d\t%s\n", e.ID, respond.Quote(e.Login), e.ExportedAt.Format(time.RFC3339),
					respond.Quote(e.Sender), len(e.Recipients), e.RestoredAs)
			}
			fmt.Fprintf(tw, "%d message(s)\n", len(sel))
			if err := tw.Flush(); err != nil {
				return err
			}
			if u, err := env.Quar.Usage(); err == nil && login == "" {
				fmt.Fprintln(out, usageLine(u))
			}
			return nil
		},
	}
	addMailFlags(cmd, &f)
	cmd.Flags().StringVar(&login, "login", "", "only the messages quarantined for this login")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newQuarantineShowCmd() *cobra.Command {
	var f mailFlags
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one quarantined message (its readable copy)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := openEnv(cmd, &f, true, false)
			if err != nil {
				return err
			}
			defer env.Close()
			e, raw, text, err := env.Quar.Show(args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "id: %s\nqueue id: %s\nlogin: %s\nsender: <%s>\nrecipients: %d\nexported: %s\nsha256: %s\nraw: %s\n",
				e.ID, e.QueueID, respond.Quote(e.Login), respond.Quote(e.Sender), len(e.Recipients), e.ExportedAt.Format(time.RFC3339), e.SHA256, raw)
			if e.RestoredAs != "" {
				fmt.Fprintf(out, "restored as: %s at %s\n", e.RestoredAs, e.RestoredAt.Format(time.RFC3339))
			}
			fmt.Fprintln(out)
			fh, err := os.Open(text)
			if err != nil {
				return err
			}
			defer fh.Close()
			_, err = io.Copy(out, fh)
			return err
		},
	}
	addMailFlags(cmd, &f)
	return cmd
}

func newQuarantineRestoreCmd() *cobra.Command {
	var f mailFlags
	var keepHeld bool
	cmd := &cobra.Command{
		Use:   "restore ID...",
		Short: "Put quarantined messages back into the queue (new queue id, same envelope), released unless --keep-held",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := openEnv(cmd, &f, false, false)
			if err != nil {
				return err
			}
			defer env.Close()
			lock, err := env.Store.TryLock(respond.LockName)
			if err != nil {
				return err
			}
			defer lock.Unlock()
			out := cmd.OutOrStdout()
			failed := 0
			for _, id := range args {
				e, err := env.Quar.Restore(cmd.Context(), id, quarantine.RestoreOptions{KeepHeld: keepHeld})
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "saslguard: %v\n", err)
					failed++
					continue
				}
				fmt.Fprintf(out, "%s restored as queue id %s\n", e.ID, e.RestoredAs)
			}
			if failed > 0 {
				return &exitError{code: 2}
			}
			return nil
		},
	}
	addMailFlags(cmd, &f)
	cmd.Flags().BoolVar(&keepHeld, "keep-held", false, "leave the restored message on hold")
	return cmd
}

// usageLine says what the quarantine holds, for list and status.
func usageLine(u quarantine.Usage) string {
	if u.Entries == 0 {
		return "quarantine: empty"
	}
	return fmt.Sprintf("quarantine: %d message(s), %s on disk, oldest exported %s (saslguard quarantine purge --older-than 30d)",
		u.Entries, report.HumanBytes(u.Bytes), u.Oldest.Format(time.RFC3339))
}

// parseByteSize reads "500M", "2G", "1GiB", "750MB" or a number of bytes.
func parseByteSize(s string) (int64, error) {
	num := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}} {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = rest, u.mult
			break
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v <= 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q (want e.g. 500M, 2G, 1GiB)", s)
	}
	return v * mult, nil
}

func newQuarantinePurgeCmd() *cobra.Command {
	var f mailFlags
	var olderThan, maxSize string
	var yes bool
	cmd := &cobra.Command{
		Use:   "purge",
		Short: "Remove old quarantined messages (dry run without --yes)",
		Long: `purge applies a retention policy to the quarantine: messages exported more
than --older-than ago are removed, then the oldest until what is left fits
--max-size. Without --yes it lists what it would remove. A removed message is
gone for good (restore it first if it was held by mistake); the index keeps a
record of it. Run it from cron, e.g. daily with --older-than 90d --max-size 2G.

Exit status: 0 done (or plan printed), 2 error.`,
		Example: `  saslguard quarantine purge --older-than 90d
  saslguard quarantine purge --older-than 30d --max-size 2G --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var opts quarantine.PurgeOptions
			var err error
			if olderThan != "" {
				if opts.OlderThan, err = respond.PostfixDuration(olderThan, 'd'); err != nil || opts.OlderThan == 0 {
					return fmt.Errorf("--older-than %q: want e.g. 90d, 12w, 36h", olderThan)
				}
			}
			if maxSize != "" {
				if opts.MaxBytes, err = parseByteSize(maxSize); err != nil {
					return fmt.Errorf("--max-size: %w", err)
				}
			}
			if opts.OlderThan == 0 && opts.MaxBytes == 0 {
				return errors.New("give --older-than, --max-size or both")
			}
			opts.DryRun = !yes
			env, err := openEnv(cmd, &f, opts.DryRun, false)
			if err != nil {
				return err
			}
			defer env.Close()
			if !opts.DryRun {
				lock, err := env.Store.TryLock(respond.LockName)
				if err != nil {
					return err
				}
				defer lock.Unlock()
			}
			r, err := env.Quar.Purge(opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, e := range r.Purged {
				fmt.Fprintf(out, "%s\t%s\texported %s\n", e.ID, respond.Quote(e.Login), e.ExportedAt.Format(time.RFC3339))
			}
			verb := "removed"
			if opts.DryRun {
				verb = "would remove"
			}
			fmt.Fprintf(out, "%s %d message(s), %s; left: %d message(s), %s\n", verb, len(r.Purged), report.HumanBytes(r.Bytes), r.Left.Entries, report.HumanBytes(r.Left.Bytes))
			if opts.DryRun && len(r.Purged) > 0 {
				fmt.Fprintln(out, "dry run: nothing was changed (add --yes to remove)")
			}
			return nil
		},
	}
	addMailFlags(cmd, &f)
	cmd.Flags().StringVar(&olderThan, "older-than", "", "remove messages exported longer ago than this (90d, 12w, 36h)")
	cmd.Flags().StringVar(&maxSize, "max-size", "", "then remove the oldest until the quarantine fits this size (2G, 500M)")
	cmd.Flags().BoolVar(&yes, "yes", false, "do it (default: list what would go)")
	return cmd
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/saslguard/saslguard/internal/queue"
	"github.com/saslguard/saslguard/internal/queue/postfixq"
	"github.com/saslguard/saslguard/internal/respond"
)

func init() { register(newQueueCmd) }

func newQueueCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "Single steps of respond on the Postfix queue: list, hold, release, purge",
	}
	cmd.AddCommand(newQueueListCmd(), newQueueHoldCmd(), newQueueReleaseCmd(), newQueuePurgeCmd())
	return cmd
}

// openEnv sets up respond's environment for a single-step command; a
// read-only one (a listing, a dry run) creates no state and needs an
// existing store.
func openEnv(cmd *cobra.Command, f *mailFlags, readOnly, noStoreOK bool) (*respond.Env, error) {
	s, _, err := f.settings()
	if err != nil {
		return nil, err
	}
	s.NoSessions = true
	s.ReadOnly, s.NoStoreOK = readOnly, noStoreOK
	return respond.Setup(cmd.Context(), s, cmd.OutOrStdout())
}

func newQueueListCmd() *cobra.Command {
	var f mailFlags
	var login string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the queue, or (--login) the messages whose queue file names a login",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := openEnv(cmd, &f, true, true) // the queue alone: no store needed
			if err != nil {
				return err
			}
			defer env.Close()
			ctx := cmd.Context()
			var msgs []queue.Message
			if login != "" {
				sel, err := queue.SelectLogin(ctx, env.Mgr, login, nil)
				if err != nil {
					return err
				}
				for _, m := range sel.Messages {
					msgs = append(msgs, m.Message)
				}
			} else {
				err := env.Mgr.List(ctx, func(e queue.Entry) error {
					msgs = append(msgs, queue.Message{QueueID: e.QueueID, Queue: e.Queue, Sender: e.Sender,
						Recipients: e.Recipients, ArrivalTime: e.ArrivalTime, Size: e.Size})
					return nil
				})
				if err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				if msgs == nil {
					msgs = []queue.Message{}
				}
				return enc.Encode(msgs)
			}
			tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "QUEUE ID\tQUEUE\tARRIVAL\tSIZE\tSENDER\tRCPTS\tLOGIN")
			for _, m := range msgs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t<%s>\t%d\t%s\n", m.QueueID, m.Queue, m.ArrivalTime.Format(time.RFC3339), m.Size,
					respond.Quote(m.Sender), len(m.Recipients), respond.Quote(m.SASLUsername))
			}
			fmt.Fprintf(tw, "%d message(s)\n", len(msgs))
			return tw.Flush()
		},
	}
	addMailFlags(cmd, &f)
	cmd.Flags().StringVar(&login, "login", "", "only the messages whose queue file names this SASL login")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newQueueHoldCmd() *cobra.Command {
	var f mailFlags
	var yes bool
	cmd := &cobra.Command{
		Use:   "hold LOGIN",
		Short: "Hold the queued messages whose queue file names LOGIN (rechecked after the hold)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := openEnv(cmd, &f, !yes, true)
			if err != nil {
				return err
			}
			defer env.Close()
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			if !yes {
				sel, err := queue.SelectLogin(ctx, env.Mgr, args[0], nil)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "would hold %d message(s) of %s: %s\ndry run: run again with --yes\n", len(sel.Messages), respond.Quote(args[0]), strings.Join(sel.IDs(), " "))
				return nil
			}
			lock, err := env.Store.TryLock(respond.LockName)
			if err != nil {
				return err
			}
			defer lock.Unlock()
			rep, err := queue.HoldLogin(ctx, env.Mgr, args[0], nil)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "held %d message(s) of %s; released %d reused id(s); %d gone\n", len(rep.Held), respond.Quote(args[0]), len(rep.Released), len(rep.Missing))
			for _, id := range rep.Held {
				fmt.Fprintln(out, id)
			}
			return nil
		},
	}
	addMailFlags(cmd, &f)
	cmd.Flags().BoolVar(&yes, "yes", false, "do it (default: show what would be held)")
	return cmd
}

func newQueueReleaseCmd() *cobra.Command {
	var f mailFlags
	var yes bool
	cmd := &cobra.Command{
		Use:   "release QUEUEID...",
		Short: "Release held messages by queue id (never ALL: other holds may be someone else's)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, id := range args {
				if !postfixq.ValidQueueID(id) {
					return fmt.Errorf("not a queue id: %s", respond.Quote(id))
				}
			}
			env, err := openEnv(cmd, &f, !yes, true)
			if err != nil {
				return err
			}
			defer env.Close()
			out := cmd.OutOrStdout()
			if !yes {
				fmt.Fprintf(out, "would release %d message(s) from hold: %s\ndry run: run again with --yes\n", len(args), strings.Join(args, " "))
				return nil
			}
			lock, err := env.Store.TryLock(respond.LockName)
			if err != nil {
				return err
			}
			defer lock.Unlock()
			res, err := env.Mgr.Release(cmd.Context(), args)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "released %d of %d; not on hold: %s\n", res.Changed, res.Requested, strings.Join(res.Missing, " "))
			if len(res.Missing) > 0 {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	addMailFlags(cmd, &f)
	cmd.Flags().BoolVar(&yes, "yes", false, "do it (default: show what would be released)")
	return cmd
}

func newQueuePurgeCmd() *cobra.Command {
	var f mailFlags
	var yes bool
	cmd := &cobra.Command{
		Use:   "purge LOGIN",
		Short: "Quarantine, then delete from the hold queue, the held messages whose queue file names LOGIN",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := openEnv(cmd, &f, !yes, true)
			if err != nil {
				return err
			}
			defer env.Close()
			ctx, out, login := cmd.Context(), cmd.OutOrStdout(), args[0]
			sel, err := queue.SelectLogin(ctx, env.Mgr, login, nil)
			if err != nil {
				return err
			}
			var held []string
			for _, m := range sel.Messages {
				if m.Queue == "hold" {
					held = append(held, m.QueueID)
				}
			}
			if !yes {
				fmt.Fprintf(out, "would quarantine and delete %d held message(s) of %s: %s\n(messages of the login not on hold are left alone: hold them first)\ndry run: run again with --yes\n",
					len(held), respond.Quote(login), strings.Join(held, " "))
				return nil
			}
			lock, err := env.Store.TryLock(respond.LockName)
			if err != nil {
				return err
			}
			defer lock.Unlock()
			var exported []string
			var errs []error
			for _, id := range held {
				if _, _, err := env.Quar.Export(ctx, id, login); err != nil {
					errs = append(errs, err)
					continue
				}
				exported = append(exported, id)
			}
			res, err := env.Mgr.DeleteHeld(ctx, exported)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "quarantined %d and deleted %d held message(s) of %s; %d kept on hold\n", len(exported), res.Changed, respond.Quote(login), len(errs))
			if len(errs) > 0 {
				return errors.Join(errs...)
			}
			return nil
		},
	}
	addMailFlags(cmd, &f)
	cmd.Flags().BoolVar(&yes, "yes", false, "do it (default: show what would be purged)")
	return cmd
}

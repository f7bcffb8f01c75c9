package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/saslguard/saslguard/internal/quarantine"
	"github.com/saslguard/saslguard/internal/respond"
)

func init() { register(newQuarantineCmd) }

func newQuarantineCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quarantine",
		Short: "List, show and restore the messages respond took out of the queue",
	}
	cmd.AddCommand(newQuarantineListCmd(), newQuarantineShowCmd(), newQuarantineRestoreCmd())
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
			return tw.Flush()
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

package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/saslguard/saslguard/internal/respond"
	"github.com/saslguard/saslguard/internal/store"
)

func init() { register(newIncidentCmd) }

func newIncidentCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "incident",
		Short: "List and show incidents and the actions taken on them",
	}
	cmd.AddCommand(newIncidentListCmd(), newIncidentShowCmd())
	return cmd
}

// incidentFlags only need the state directory.
type incidentFlags struct {
	stateDir string
	asJSON   bool
}

func addIncidentFlags(cmd *cobra.Command, f *incidentFlags) {
	cmd.Flags().StringVar(&f.stateDir, "state-dir", respond.DefaultStateDir, "state directory of the incident store")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print JSON")
}

func newIncidentListCmd() *cobra.Command {
	var f incidentFlags
	var login, status string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List incidents, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := store.OpenExistingDir(f.stateDir)
			if err != nil {
				return err
			}
			defer st.Close()
			incs, err := st.ListIncidents(cmd.Context(), store.IncidentFilter{Login: login, Status: status})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.asJSON {
				if incs == nil {
					incs = []store.Incident{}
				}
				return json.NewEncoder(out).Encode(incs)
			}
			tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tLOGIN\tSOURCE\tSTATUS\tOPENED\tUPDATED\tSUMMARY")
			for _, in := range incs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", in.ID, respond.Quote(in.Login), in.Source, in.Status,
					in.Created.Format(time.RFC3339), in.Updated.Format(time.RFC3339), printableText(in.Summary))
			}
			return tw.Flush()
		},
	}
	addIncidentFlags(cmd, &f)
	cmd.Flags().StringVar(&login, "login", "", "only this login's incidents")
	cmd.Flags().StringVar(&status, "status", "", "only incidents with this status (open, closed)")
	return cmd
}

func newIncidentShowCmd() *cobra.Command {
	var f incidentFlags
	cmd := &cobra.Command{
		Use:   "show INCIDENT",
		Short: "Show an incident and every action taken on it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseIncident(args[0])
			if err != nil {
				return err
			}
			st, err := store.OpenExistingDir(f.stateDir)
			if err != nil {
				return err
			}
			defer st.Close()
			in, acts, err := st.GetIncident(cmd.Context(), id)
			if err != nil {
				return fmt.Errorf("incident %d: %w", id, err)
			}
			out := cmd.OutOrStdout()
			if f.asJSON {
				if acts == nil {
					acts = []store.Action{}
				}
				return json.NewEncoder(out).Encode(struct {
					Incident store.Incident `json:"incident"`
					Actions  []store.Action `json:"actions"`
				}{in, acts})
			}
			fmt.Fprintf(out, "incident %d: %s (%s, %s)\nopened %s, updated %s\n%s\n\n", in.ID, respond.Quote(in.Login), in.Source, in.Status,
				in.Created.Format(time.RFC3339), in.Updated.Format(time.RFC3339), printableText(in.Summary))
			tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tOK\tFAILED\tCOMMAND\tRESULT")
			for _, a := range acts {
				res := a.Result
				if len(res) > 160 {
					res = res[:160] + "..."
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", a.At.Format(time.RFC3339), a.OK, a.Failed, printableText(a.Command), printableText(res))
			}
			return tw.Flush()
		},
	}
	addIncidentFlags(cmd, &f)
	return cmd
}

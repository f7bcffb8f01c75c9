package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/saslguard/saslguard/internal/config"
	"github.com/saslguard/saslguard/internal/detect"
)

func init() { register(newRulesCmd) }

func newRulesCmd() *cobra.Command {
	var cfgPath string
	var markdown bool
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List the detector's rules, their points and the thresholds they read",
		Long: `rules lists the detector's rules in the order they are evaluated: each with
its kind (score rules add points; a sending rule must fire for a login to be
compromised, a sending or notable rule for it to be suspicious), its points,
what it detects and the thresholds it reads, with their values in the
configuration. --markdown prints the table the README shows.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if markdown {
				_, err := fmt.Fprint(cmd.OutOrStdout(), detect.RulesMarkdown())
				return err
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			dc := cfg.DetectConfig()
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "suspicious from score %d with a sending or notable rule; compromised from score %d with a sending rule\n\n%s",
				dc.SuspiciousScore, dc.CompromisedScore, detect.RulesText(dc.Thresholds))
			return err
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file whose thresholds to show")
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print the README's Markdown table (default thresholds)")
	return cmd
}

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/saslguard/saslguard/internal/config"
	"github.com/saslguard/saslguard/internal/policy"
)

func init() { register(newConfigCmd) }

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print or check saslguard's configuration",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "example",
		Short: "Print a commented default configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), config.Example+"\n"+policy.ExampleConfig)
			return err
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Check a configuration file: unknown keys and bad values are errors",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := config.Load(args[0]); err != nil {
				return err
			}
			if _, err := policy.LoadConfig(args[0]); err != nil {
				return err
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", args[0])
			return err
		},
	})
	return cmd
}

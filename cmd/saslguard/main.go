// Command saslguard finds and contains stolen SMTP AUTH logins on mail servers.
//
// This package only wires subcommands together: every subcommand lives in a
// file of its own (scan.go, policy.go, ...) and registers itself with
// register from an init function, so that work on one command does not touch
// another's file.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries a process exit status out of a command. Commands return
// it when the status means something other than "error" (scan exits 1 when it
// found compromised logins).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

var commandFactories []func() *cobra.Command

// register adds a subcommand constructor; call it from init.
func register(f func() *cobra.Command) { commandFactories = append(commandFactories, f) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "saslguard",
		Short: "Find and contain stolen SMTP AUTH logins",
		Long: `saslguard finds the SMTP AUTH logins that spammers are using on your mail
server, and contains them.

  saslguard scan /var/log/mail.log*      name the compromised logins, with evidence
  saslguard explain 'LOG LINE'           show how one log line is read
  saslguard config example               print a commented default configuration

Run "saslguard COMMAND --help" for what each command does and its flags.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	addVersionFlag(root)
	for _, f := range commandFactories {
		root.AddCommand(f())
	}
	return root
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "saslguard:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "saslguard:", err)
	return 2
}

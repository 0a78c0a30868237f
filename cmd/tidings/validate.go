package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) validateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check every segment and campaign file; list all errors with file, line and column",
		Long: `Validate loads tidings.yaml, segments/*.yaml and campaigns/*.yaml strictly:
an unknown key, a wrong type, a bad cron expression, an unknown time zone,
segment, channel or template, or a duplicate name is an error naming the file,
line and column. Every error is listed, not just the first. Then every
campaign's templates are rendered for a sample customer in each locale they
have, so a template that names a missing field fails here, not at send time.
The exit status is 1 when there is any error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := a.loadAll()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s: %d %s, %d %s: OK\n", a.configDir,
				len(cfg.Segments), plural(len(cfg.Segments), "segment", "segments"),
				len(cfg.Campaigns), plural(len(cfg.Campaigns), "campaign", "campaigns"))
			return nil
		},
	}
}

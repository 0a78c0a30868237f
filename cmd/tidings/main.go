// Command tidings runs marketing campaigns: it validates campaign files,
// manages the customer database and shows who a segment selects.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "time/tzdata" // the binary carries its own zone database, for containers without one

	"github.com/spf13/cobra"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// app is what every command shares: its streams, the environment and the
// global flags. Tests build one and call run, so they exercise the real CLI.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	configDir      string
	templatesDir   string
	log            *slog.Logger
	// now is the clock every command decides and stamps by: the wall
	// clock, or for tests the one TIDINGS_TEST_NOW sets (clock.go).
	now func() time.Time
}

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	a.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	now, err := clock(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "tidings:", err)
		return 2
	}
	a.now = now
	if v := getenv(testNowEnv); v != "" {
		a.log.Warn("the clock is set for a test; never in production", "env", testNowEnv, "start", v)
	}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err = root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if e, ok := err.(*exitError); ok {
		if e.msg != "" {
			fmt.Fprintln(stderr, e.msg)
		}
		return e.code
	}
	fmt.Fprintln(stderr, "tidings:", err)
	return 1
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "tidings",
		Short: "Tidings runs database-marketing campaigns: holiday greetings, birthday gifts, product mailers",
		Long: `Tidings runs database-marketing campaigns against a customer database.

Marketers write segments and campaigns as YAML under the configuration folder
(segments/, campaigns/, tidings.yaml) and message templates under templates/.

Environment:
  TIDINGS_DATABASE_URL  sqlite:///path/to/file.db or postgres://user@host/db
                        (default ` + store.DefaultURL + `)
  TIDINGS_REDIS_URL     redis://host:6379/0, for the queue (worker, scheduler)`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.configDir, "config", "configs", "configuration folder (tidings.yaml, segments/, campaigns/)")
	root.PersistentFlags().StringVar(&a.templatesDir, "templates", "templates", "templates folder")
	root.AddCommand(a.validateCommand(), a.audienceCommand(), a.customersCommand(), a.demoCommand(),
		a.workerCommand(), a.sendCommand(), a.runsCommand(), a.previewCommand(), a.resumeCommand(), a.benchCommand(), a.schedulerCommand())
	root.AddCommand(a.webCommand())
	root.AddCommand(a.healthcheckCommand())
	root.AddCommand(a.suppressionsCommand())
	return root
}

// databaseURL is TIDINGS_DATABASE_URL, or the embedded default.
func (a *app) databaseURL() string {
	if u := a.getenv("TIDINGS_DATABASE_URL"); u != "" {
		return u
	}
	return store.DefaultURL
}

func (a *app) openStore(ctx context.Context) (*store.DB, error) {
	db, err := store.Open(ctx, a.databaseURL())
	if err != nil {
		return nil, err
	}
	db.SetClock(a.now)
	return db, nil
}

// loadConfig loads and checks the configuration folder, printing every
// problem; the error is then only an exit code.
func (a *app) loadConfig() (*campaigns.Config, error) {
	cfg, err := a.loadCampaigns()
	if err != nil {
		return nil, a.loadFailed(err)
	}
	return cfg, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

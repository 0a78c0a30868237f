package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) healthcheckCommand() *cobra.Command {
	var target string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when a Tidings HTTP endpoint answers 2xx, else 1 (for container health checks)",
		Long: `Healthcheck asks one of Tidings' own probe endpoints and turns the answer into
an exit status, for container health checks: the image has no shell and no
curl, so a HEALTHCHECK or a docker-compose.yml healthcheck runs the binary:

  tidings healthcheck --url http://127.0.0.1:8080/readyz   # tidings web
  tidings healthcheck --url http://127.0.0.1:9090/readyz   # worker or scheduler --listen :9090

/healthz answers while the process serves HTTP; /readyz also checks the
database and Redis. A 2xx answer exits 0; anything else (another status, a
redirect, no answer within --timeout) exits 1 with the reason on stderr.
It reads no configuration and needs no environment.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.healthcheck(cmd.Context(), target, timeout)
		},
	}
	cmd.Flags().StringVar(&target, "url", "http://127.0.0.1:8080/healthz", "the endpoint to ask")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the whole answer")
	return cmd
}

// maxHealthBody bounds what is read of an answer and echoed: Docker keeps
// only the first 4 KiB of a health check's output anyway.
const maxHealthBody = 1 << 10

func (a *app) healthcheck(ctx context.Context, target string, timeout time.Duration) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url %q: want http://host:port/path", target)
	}
	if timeout <= 0 {
		return fmt.Errorf("--timeout %s: want a positive duration", timeout)
	}
	client := &http.Client{
		Timeout: timeout,
		// A probe talks to the process next to it: never through a proxy
		// from the environment, never a pooled connection.
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		// A redirect (to a login page, say) is not health.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("--url %q: %w", target, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("unhealthy: %v", err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody))
	summary := strings.Join(strings.Fields(string(body)), " ")
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &exitError{code: 1, msg: strings.TrimSpace(fmt.Sprintf("unhealthy: GET %s: %s %s", target, resp.Status, summary))}
	}
	fmt.Fprintln(a.stdout, strings.TrimSpace(resp.Status+" "+summary))
	return nil
}

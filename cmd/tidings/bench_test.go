package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tidings/tidings/delivery"
	"github.com/tidings/tidings/internal/syncbuf"
)

// benchSMTP runs `tidings bench --smtp` in process on a temporary SQLite
// file and an in-process Redis and SMTP sink (no TIDINGS_* variables).
func benchSMTP(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errOut syncbuf.Buffer
	code := run(context.Background(), append([]string{"bench", "--smtp", "--recipients", "300"}, args...), nil, &out, &errOut,
		func(string) string { return "" })
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

var (
	benchLastLine = regexp.MustCompile(`^ratio_to_ceiling=\d+\.\d\d msgs_per_s=\d+ peak_rss_mib=\d+\.\d db_statements_per_msg=\d+\.\d\d\d first_msg_ms=\d+$`)
	// "ceiling      300 messages in …; sink received 300, 7543 bytes each)"
	benchSinkLine = regexp.MustCompile(`(?m)^(ceiling|pipeline) +(\d+) messages in .*sink received (\d+), (\d+) bytes each\)$`)
)

// The ceiling and the pipeline each deliver every recipient's message to
// the sink, once; the text ends with the summary line, and --json carries
// the same figures.
func TestBenchSMTP(t *testing.T) {
	t.Parallel()
	const recipients = 300
	t.Run("text", func(t *testing.T) {
		t.Parallel()
		stdout, _ := benchSMTP(t)
		lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
		if last := lines[len(lines)-1]; !benchLastLine.MatchString(last) {
			t.Errorf("last line %q does not match %s", last, benchLastLine)
		}
		phases := benchSinkLine.FindAllStringSubmatch(stdout, -1)
		if len(phases) != 2 || phases[0][1] != "ceiling" || phases[1][1] != "pipeline" {
			t.Fatalf("want a ceiling and a pipeline line with the sink's counts:\n%s", stdout)
		}
		for _, p := range phases {
			sent, _ := strconv.Atoi(p[2])
			received, _ := strconv.Atoi(p[3])
			if sent != recipients || received != recipients {
				t.Errorf("%s: %d messages sent, %d received by the sink; want %d each", p[1], sent, received, recipients)
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		stdout, _ := benchSMTP(t, "--json", "--connections", "3")
		var r smtpBenchResult
		dec := json.NewDecoder(strings.NewReader(stdout))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("not one JSON object: %v\n%s", err, stdout)
		}
		if dec.More() {
			t.Errorf("more than one JSON value:\n%s", stdout)
		}
		if r.CeilingSinkMessages == nil || *r.CeilingSinkMessages != recipients || r.SinkMessages == nil || *r.SinkMessages != recipients {
			t.Errorf("the sink received %v from the ceiling and %v from the pipeline; want %d each", deref(r.CeilingSinkMessages), deref(r.SinkMessages), recipients)
		}
		if r.Recipients != recipients || r.CeilingMessages != recipients || r.Messages != recipients || r.Skipped+r.Failed+r.Unknown != 0 {
			t.Errorf("recipients %d, ceiling %d, sent %d, skipped %d, failed %d, unknown %d; want %d sent",
				r.Recipients, r.CeilingMessages, r.Messages, r.Skipped, r.Failed, r.Unknown, recipients)
		}
		if r.Connections != 3 || r.Concurrency != 16 || r.Database != "sqlite" || r.Mode != "smtp" || r.Sink != "in-process" || r.FirstMsgSource != "sink" {
			t.Errorf("settings: %+v", r)
		}
		// About 7.6 KB on the wire, and the ceiling's message as big.
		if r.MessageBytes < 7300 || r.MessageBytes > 7900 || r.CeilingMessageBytes < 7300 || r.CeilingMessageBytes > 7900 {
			t.Errorf("messages of %d bytes, the ceiling's %d; want about 7,600", r.MessageBytes, r.CeilingMessageBytes)
		}
		if r.MsgsPerS <= 0 || r.CeilingMsgsPerS <= 0 || r.RatioToCeiling <= 0 {
			t.Errorf("rates: %d msgs/s, ceiling %d, ratio %.2f", r.MsgsPerS, r.CeilingMsgsPerS, r.RatioToCeiling)
		}
		if r.DBStatements == 0 || r.DBStatementsPerMsg <= 0 {
			t.Errorf("%d database statements, %.3f per message", r.DBStatements, r.DBStatementsPerMsg)
		}
		if r.FirstMsgMS < 0 || r.FirstMsgMS > r.ElapsedMS {
			t.Errorf("first message after %d ms of a %d ms run", r.FirstMsgMS, r.ElapsedMS)
		}
		// 300 recipients are one batch of batch_size 500.
		if r.RedisBatchTasks != 1 || r.RedisBytesPerRecipient <= 0 {
			t.Errorf("redis: %d batch tasks, %.1f bytes per recipient", r.RedisBatchTasks, r.RedisBytesPerRecipient)
		}
		if r.CrashBound != delivery.UnsettledBound(16) || r.PeakRSSMiB <= 0 {
			t.Errorf("crash bound %d, peak RSS %.1f MiB", r.CrashBound, r.PeakRSSMiB)
		}
	})
}

func deref(n *int64) any {
	if n == nil {
		return nil
	}
	return *n
}

// Flags that make no sense together are refused before anything starts.
func TestBenchFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"bench", "--smtp-addr", "127.0.0.1:25"},
		{"bench", "--connections", "4"},
		{"bench", "--smtp", "--connections", "0"},
		{"bench", "--smtp", "--connections", "101"},
		{"bench", "--recipients", "0"},
		{"bench", "--smtp", "--smtp-addr", "localhost"},
	} {
		var out, errOut syncbuf.Buffer
		code := run(context.Background(), args, nil, &out, &errOut, func(string) string { return "" })
		if code != 1 || !strings.Contains(errOut.String(), "--") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut.String())
		}
	}
}

package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// `tidings healthcheck` is what the containers' health checks run: exit 0
// only for a 2xx answer within the timeout.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte("ok\n"))
		case "/readyz":
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("database: ok\nredis: failed\n"))
		case "/login-redirect":
			http.Redirect(w, r, "/healthz", http.StatusFound)
		case "/slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	// An address nothing listens on: bind a port, then free it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/healthz"
	ln.Close()

	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		out, inErr string
	}{
		{"healthy", []string{"--url", srv.URL + "/healthz"}, 0, "200 OK ok", ""},
		{"not ready", []string{"--url", srv.URL + "/readyz"}, 1, "", "503 Service Unavailable database: ok redis: failed"},
		{"redirect is not health", []string{"--url", srv.URL + "/login-redirect"}, 1, "", "302 Found"},
		{"not found", []string{"--url", srv.URL + "/nope"}, 1, "", "404 Not Found"},
		{"nothing listening", []string{"--url", closed}, 1, "", "unhealthy: "},
		{"timeout", []string{"--url", srv.URL + "/slow", "--timeout", "200ms"}, 1, "", "Client.Timeout exceeded"},
		{"bad url", []string{"--url", "127.0.0.1:8080/healthz"}, 1, "", "want http://host:port/path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, stdout, stderr := tidings(t, "", append([]string{"healthcheck"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if strings.TrimSpace(stdout) != tc.out {
				t.Errorf("stdout %q, want %q", stdout, tc.out)
			}
			if tc.inErr != "" && !strings.Contains(stderr, tc.inErr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.inErr)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s: the timeout did not hold", d)
			}
		})
	}
}

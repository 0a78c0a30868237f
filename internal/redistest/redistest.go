// Package redistest starts a private, real redis-server for a test, on a
// Unix socket in the test's temporary folder: no port to race for, nothing
// shared between tests, stopped when the test ends. Tests never mock Redis.
package redistest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Server is a running redis-server.
type Server struct {
	Socket string
}

// URL is the server's address as TIDINGS_REDIS_URL takes it.
func (s *Server) URL() string { return "redis-socket://" + s.Socket }

// Opt is the server's address for Asynq.
func (s *Server) Opt() asynq.RedisClientOpt {
	return asynq.RedisClientOpt{Network: "unix", Addr: s.Socket}
}

// Client returns a go-redis client; it is closed after the test.
func (s *Server) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: s.Socket})
	t.Cleanup(func() { c.Close() })
	return c
}

// Start starts redis-server. Without the binary the test is skipped on a
// developer's machine and fails under CI (`make test` installs it).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server not found; run the tests with `make test`")
		}
		t.Skip("redis-server not found; `make test` installs it")
	}
	// Unix socket paths are limited to ~100 bytes; t.TempDir() can be longer.
	dir, err := os.MkdirTemp("", "redis")
	if err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", socket, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning")
	logFile, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(dir)
	})
	s := &Server{Socket: socket}
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: socket})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c.Ping(context.Background()).Err() == nil {
			return s
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("redis-server did not start:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/tidings/tidings/channels"
	"github.com/tidings/tidings/channels/email"
	"github.com/tidings/tidings/channels/outbox"
)

// docker-compose.yml cannot be run here (no Docker engine), so these tests
// read it: the services the issue asks for, health checks, where secrets
// come from, and that every command it gives the image is one this binary
// accepts.

const (
	composeFile        = "docker-compose.yml"
	composeTidingsYAML = "deploy/compose/configs/tidings.yaml"
	// imageBinary is where the Dockerfile puts the binary (its ENTRYPOINT).
	imageBinary = "/usr/local/bin/tidings"
)

func loadCompose(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, composeFile))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	return doc
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

func asStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = fmt.Sprint(x)
	}
	return out
}

// flagValue returns the value of --name in args ("--name v" or "--name=v").
func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// checkArgs parses args with the real command tree, as `tidings ARGS` would,
// without running anything: an unknown command, flag or argument count is
// an error.
func checkArgs(args []string) error {
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" },
		log: slog.New(slog.DiscardHandler)}
	root := a.rootCommand()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if cmd == root || cmd.RunE == nil {
		return fmt.Errorf("%q names no command that runs", strings.Join(args, " "))
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	return nil
}

func TestComposeFile(t *testing.T) {
	t.Parallel()
	doc := loadCompose(t)
	if _, ok := doc["version"]; ok {
		t.Errorf("%s has version: (obsolete in the Compose spec)", composeFile)
	}
	services := asMap(doc["services"])
	for _, name := range []string{"redis", "postgres", "mailpit", "scheduler", "worker", "web"} {
		if services[name] == nil {
			t.Errorf("no service %s", name)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	t.Run("redis", func(t *testing.T) {
		redis := asMap(services["redis"])
		cmd := strings.Join(asStrings(redis["command"]), " ")
		if !strings.Contains(cmd, "--appendonly yes") || !strings.Contains(cmd, "--appendfsync everysec") {
			t.Errorf("redis command %q: want AOF persistence (--appendonly yes --appendfsync everysec)", cmd)
		}
		if !slices.ContainsFunc(asStrings(redis["volumes"]), func(v string) bool { return strings.HasSuffix(v, ":/data") }) {
			t.Errorf("redis: no volume on /data, where the AOF is written")
		}
		if test := asStrings(asMap(redis["healthcheck"])["test"]); !slices.Equal(test, []string{"CMD", "redis-cli", "ping"}) {
			t.Errorf("redis healthcheck %v", test)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		pg := asMap(services["postgres"])
		if !regexp.MustCompile(`^postgres:1[5-9]\b`).MatchString(fmt.Sprint(pg["image"])) {
			t.Errorf("postgres image %v", pg["image"])
		}
		if !strings.Contains(strings.Join(asStrings(asMap(pg["healthcheck"])["test"]), " "), "pg_isready") {
			t.Errorf("postgres healthcheck %v: want pg_isready", asMap(pg["healthcheck"])["test"])
		}
		if !slices.ContainsFunc(asStrings(pg["volumes"]), func(v string) bool { return strings.HasSuffix(v, ":/var/lib/postgresql/data") }) {
			t.Errorf("postgres: no volume on its data folder")
		}
	})
	t.Run("mailpit", func(t *testing.T) {
		mp := asMap(services["mailpit"])
		if !strings.HasPrefix(fmt.Sprint(mp["image"]), "axllent/mailpit:") {
			t.Errorf("mailpit image %v", mp["image"])
		}
		if !slices.Contains(asStrings(mp["ports"]), "127.0.0.1:8025:8025") {
			t.Errorf("mailpit ports %v: want its UI on 127.0.0.1:8025", mp["ports"])
		}
	})

	var tidingsImage string
	for name, v := range services {
		svc := asMap(v)
		image := fmt.Sprint(svc["image"])
		if svc["build"] == nil {
			// Someone else's image: pinned to a release, not whatever is latest.
			if _, tag, ok := strings.Cut(image, ":"); !ok || tag == "latest" {
				t.Errorf("%s: image %q: pin a tag", name, image)
			}
			continue
		}
		t.Run(name, func(t *testing.T) {
			if b := svc["build"]; b != "." && asMap(b)["context"] != "." {
				t.Errorf("build %v: want the repository's Dockerfile (build: .)", b)
			}
			if tidingsImage == "" {
				tidingsImage = image
			} else if image != tidingsImage {
				t.Errorf("image %q, others %q: one image, built once", image, tidingsImage)
			}
			args := asStrings(svc["command"])
			if err := checkArgs(args); err != nil {
				t.Errorf("command %v: %v", args, err)
			}
			if code, stdout, stderr := tidings(t, "", append(args, "--help")...); code != 0 || !strings.Contains(stdout, "Usage:") {
				t.Errorf("tidings %s --help: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
			}

			hc := asMap(svc["healthcheck"])
			test := asStrings(hc["test"])
			switch {
			case hc["disable"] == true || len(test) == 0:
				if reason := svc["x-healthcheck-omitted"]; reason == nil || fmt.Sprint(reason) == "" {
					t.Errorf("no healthcheck and no x-healthcheck-omitted saying why")
				}
			case len(test) < 3 || test[0] != "CMD" || test[1] != imageBinary:
				// The image has no shell and no curl.
				t.Errorf("healthcheck %v: want [CMD, %s, healthcheck, …]", test, imageBinary)
			default:
				if err := checkArgs(test[2:]); err != nil || test[2] != "healthcheck" {
					t.Errorf("healthcheck %v: %v", test, err)
				}
				u, err := url.Parse(flagValue(test, "--url"))
				listen := flagValue(args, "--listen")
				_, port, _ := net.SplitHostPort(listen)
				if err != nil || u.Port() == "" || u.Port() != port {
					t.Errorf("healthcheck asks %s, but the command listens on %q", flagValue(test, "--url"), listen)
				}
			}

			deps := asMap(svc["depends_on"])
			for dep, cond := range deps {
				c := asMap(cond)["condition"]
				if services[dep] == nil {
					t.Errorf("depends on %s, which is no service", dep)
				}
				if c == "service_healthy" && asMap(asMap(services[dep])["healthcheck"])["test"] == nil {
					t.Errorf("waits for %s to be healthy, which has no healthcheck", dep)
				}
			}
			if asMap(deps["postgres"])["condition"] != "service_healthy" {
				t.Errorf("depends_on postgres %v: want condition: service_healthy", deps["postgres"])
			}
			if args[0] != "customers" && asMap(deps["redis"])["condition"] != "service_healthy" {
				t.Errorf("depends_on redis %v: want condition: service_healthy", deps["redis"])
			}

			// tidings.yaml is the compose one, over the image's WORKDIR /app
			// and the default --config configs.
			if !slices.Contains(asStrings(svc["volumes"]), "./"+composeTidingsYAML+":/app/configs/tidings.yaml:ro") {
				t.Errorf("volumes %v: want ./%s mounted read-only on /app/configs/tidings.yaml", svc["volumes"], composeTidingsYAML)
			}
		})
	}

	worker := asMap(services["worker"])
	if r, _ := asMap(worker["deploy"])["replicas"].(uint64); r < 2 {
		t.Errorf("worker: deploy.replicas %v, want 2", asMap(worker["deploy"])["replicas"])
	}
	if args := asStrings(worker["command"]); len(args) == 0 || args[0] != "worker" {
		t.Errorf("worker command %v", args)
	}
	if args := asStrings(asMap(services["scheduler"])["command"]); len(args) == 0 || args[0] != "scheduler" {
		t.Errorf("scheduler command %v", args)
	}
	web := asMap(services["web"])
	if args := asStrings(web["command"]); len(args) == 0 || args[0] != "web" || flagValue(args, "--listen") != ":8080" {
		t.Errorf("web command %v: want web --listen :8080", args)
	}
	for name, v := range services {
		for _, p := range asStrings(asMap(v)["ports"]) {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %s beyond this machine (with local default passwords)", name, p)
			}
		}
	}
}

var (
	// secretName is an environment variable that holds a credential.
	secretName = regexp.MustCompile(`(PASSWORD|SECRET|TOKEN|_KEY|_SID)$`)
	// fromEnv is a value taken from the environment of `docker compose`:
	// ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}.
	fromEnv = regexp.MustCompile(`^\$\{[A-Z_][A-Z0-9_]*(:?[-?][^}]*)?\}$`)
)

// Credentials come from the environment of `docker compose`, never written
// into the file: a value of a secret's name, or a URL's password, is a
// ${VAR:-local default}. And every TIDINGS_ variable the compose file sets
// is one the code reads, and the reverse.
func TestComposeEnvironment(t *testing.T) {
	t.Parallel()
	services := asMap(loadCompose(t)["services"])
	set := map[string]bool{}
	for name, v := range services {
		for k, val := range asMap(asMap(v)["environment"]) {
			value := fmt.Sprint(val)
			if val == nil {
				value = ""
			}
			if strings.HasPrefix(k, "TIDINGS_") {
				set[k] = true
			}
			if secretName.MatchString(k) && !fromEnv.MatchString(value) {
				t.Errorf("%s: %s: %q is written in the file; use ${%s:-…}", name, k, value, k)
			}
			if u, err := url.Parse(value); err == nil && u.User != nil {
				if pw, ok := u.User.Password(); ok && !fromEnv.MatchString(pw) {
					t.Errorf("%s: %s: the URL's password %q is written in the file; use ${…:-…}", name, k, pw)
				}
			}
		}
	}

	read := map[string]bool{}
	err := filepath.WalkDir(repoRoot, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && (e.Name() == "testdata" || strings.HasPrefix(e.Name(), ".")) && path != repoRoot {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && regexp.MustCompile(`^TIDINGS_[A-Z0-9_]+$`).MatchString(s) && !strings.Contains(s, "_TEST_") {
					read[s] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range set {
		if !read[k] {
			t.Errorf("%s sets %s, which no code reads", composeFile, k)
		}
	}
	for k := range read {
		if !set[k] {
			t.Errorf("the code reads %s; %s does not pass it", k, composeFile)
		}
	}
}

// The compose tidings.yaml, with the shipped segments, campaigns and
// templates, gives a worker email through mailpit and SMS to the outbox
// volume, and its templates pass the SMS checks.
func TestComposeTidingsYAML(t *testing.T) {
	t.Parallel()
	services := asMap(loadCompose(t)["services"])
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(repoRoot, "configs"))); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "tidings.yaml"))
	if err := copyFile(filepath.Join(repoRoot, composeTidingsYAML), filepath.Join(dir, "tidings.yaml")); err != nil {
		t.Fatal(err)
	}
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" },
		log: slog.New(slog.DiscardHandler), configDir: dir, templatesDir: filepath.Join(repoRoot, "templates")}
	cfg, _, err := a.load()
	if err != nil {
		t.Fatalf("%s does not load with the shipped configuration: %v", composeTidingsYAML, err)
	}
	s := cfg.Settings
	if s.Delivery.Outbox != "" {
		t.Errorf("delivery.outbox %q would send email to files too", s.Delivery.Outbox)
	}
	smtp := s.Channels.Email.SMTP
	if smtp == nil || services[smtp.Host] == nil || smtp.Port != 1025 {
		t.Fatalf("channels.email.smtp %+v: want the mailpit service, port 1025", smtp)
	}

	senders, err := a.senders(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := senders[channels.Email].(*email.Sender); !ok {
		t.Errorf("email goes to %T, want SMTP", senders[channels.Email])
	} else {
		e.Close()
	}
	o, ok := senders[channels.SMS].(*outbox.Outbox)
	if !ok {
		t.Fatalf("SMS goes to %T, want the outbox", senders[channels.SMS])
	}
	// The workers write it to a volume, which the image's /data/outbox
	// (owned by nonroot) initializes.
	if !slices.Contains(asStrings(asMap(services["worker"])["volumes"]), "sms-outbox:"+o.Dir) {
		t.Errorf("worker volumes %v: want the sms-outbox volume on channels.sms.outbox %s", asMap(services["worker"])["volumes"], o.Dir)
	}
	if !strings.HasPrefix(o.Dir, "/data/") {
		t.Errorf("channels.sms.outbox %s: the image makes /data/outbox writable for nonroot", o.Dir)
	}
}

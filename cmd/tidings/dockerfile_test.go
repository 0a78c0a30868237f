package main

import (
	"bufio"
	"debug/elf"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The image must ship the binary CI tests: `make test` builds it with the
// Makefile's build-static recipe and runs --help and validate with it, and
// the Dockerfile builds it with its own RUN line. These tests fail when the
// two drift apart, and build the binary from exactly what .dockerignore lets
// into the build context, since no Docker engine runs in CI.

const repoRoot = "../.."

// goBuild is one `go build` command line: the environment set before it,
// its flags (except -o), the output path and the packages.
type goBuild struct {
	env      map[string]string
	flags    map[string]string
	out      string
	packages []string
}

// shellWords splits a command line into words as sh does for the simple
// cases a build line uses: blanks separate words, quotes group and vanish.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, strconv.ErrSyntax
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// flagsWithValue are the go build flags that take the next word as their
// value when written without "=".
var flagsWithValue = map[string]bool{"-o": true, "-ldflags": true, "-gcflags": true, "-asmflags": true, "-tags": true,
	"-mod": true, "-buildmode": true, "-p": true, "-pgo": true, "-modfile": true, "-overlay": true, "-installsuffix": true, "-buildvcs": true}

// parseGoBuild reads `[NAME=VALUE …] go build [flags] packages` out of one
// shell command (which may hold other commands joined by && or ;).
func parseGoBuild(t *testing.T, where, line string) goBuild {
	t.Helper()
	var cmdLine string
	for _, part := range regexp.MustCompile(`&&|;`).Split(line, -1) {
		if strings.Contains(part, "go build") || strings.Contains(part, "$(GO) build") {
			if cmdLine != "" {
				t.Fatalf("%s: two go build commands", where)
			}
			cmdLine = part
		}
	}
	words, err := shellWords(cmdLine)
	if err != nil || cmdLine == "" {
		t.Fatalf("%s: no go build command in %q (%v)", where, line, err)
	}
	b := goBuild{env: map[string]string{}, flags: map[string]string{}}
	i := 0
	for ; i < len(words) && regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`).MatchString(words[i]); i++ {
		k, v, _ := strings.Cut(words[i], "=")
		b.env[k] = v
	}
	if i+1 >= len(words) || (words[i] != "go" && words[i] != "$(GO)") || words[i+1] != "build" {
		t.Fatalf("%s: %q is not `[ENV=…] go build …`", where, cmdLine)
	}
	for i += 2; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "-") {
			b.packages = append(b.packages, w)
			continue
		}
		name, value, hasValue := strings.Cut(w, "=")
		name = "-" + strings.TrimLeft(name, "-") // --trimpath is -trimpath
		if !hasValue && flagsWithValue[name] {
			if i+1 == len(words) {
				t.Fatalf("%s: %s without a value", where, name)
			}
			i++
			value, hasValue = words[i], true
		}
		if !hasValue {
			value = "true"
		}
		if name == "-o" {
			b.out = value
			continue
		}
		b.flags[name] = value
	}
	return b
}

// dockerfileInstructions returns the Dockerfile's instructions, one string
// each, continuation lines joined and comments dropped.
func dockerfileInstructions(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	return out
}

// dockerfileBuild is the Dockerfile's go build, and every instruction.
func dockerfileBuild(t *testing.T) (goBuild, []string) {
	t.Helper()
	ins := dockerfileInstructions(t)
	var runs []string
	for _, in := range ins {
		if strings.HasPrefix(in, "RUN ") && strings.Contains(in, "go build") {
			runs = append(runs, strings.TrimPrefix(in, "RUN "))
		}
	}
	if len(runs) != 1 {
		t.Fatalf("Dockerfile: %d RUN instructions with go build, want 1", len(runs))
	}
	return parseGoBuild(t, "Dockerfile", runs[0]), ins
}

// makeRecipe returns the recipe lines of a Makefile target.
func makeRecipe(t *testing.T, target string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, target+":"):
			in = true
		case in && strings.HasPrefix(line, "\t"):
			lines = append(lines, strings.TrimSpace(line))
		case in && strings.TrimSpace(line) == "":
		case in:
			in = false
		}
	}
	if len(lines) == 0 {
		t.Fatalf("Makefile: no recipe for %s", target)
	}
	return lines
}

func TestDockerfileBuildsLikeCI(t *testing.T) {
	t.Parallel()
	docker, ins := dockerfileBuild(t)
	recipe := makeRecipe(t, "build-static")
	if len(recipe) != 1 {
		t.Fatalf("Makefile build-static: %d recipe lines, want the one go build", len(recipe))
	}
	mk := parseGoBuild(t, "Makefile build-static", recipe[0])

	// CGO_ENABLED, GOOS, GOFLAGS… set on the line; the flags that change the
	// binary; the package. Only the output path may differ.
	if !maps.Equal(docker.env, mk.env) {
		t.Errorf("environment differs: Dockerfile %v, Makefile build-static %v", docker.env, mk.env)
	}
	if !maps.Equal(docker.flags, mk.flags) {
		t.Errorf("flags differ: Dockerfile %v, Makefile build-static %v", docker.flags, mk.flags)
	}
	if !slices.Equal(docker.packages, mk.packages) {
		t.Errorf("packages differ: Dockerfile %v, Makefile build-static %v", docker.packages, mk.packages)
	}
	// What the issue asks of the image, whichever way the two agree.
	if docker.env["CGO_ENABLED"] != "0" {
		t.Errorf("Dockerfile go build: CGO_ENABLED=%q, want 0 (a static binary for distroless/static)", docker.env["CGO_ENABLED"])
	}
	if docker.flags["-trimpath"] != "true" {
		t.Errorf("Dockerfile go build: no -trimpath")
	}
	if !slices.Equal(docker.packages, []string{"./cmd/tidings"}) {
		t.Errorf("Dockerfile go build: packages %v, want ./cmd/tidings", docker.packages)
	}
	// Settings made elsewhere would escape the comparison above.
	for _, in := range ins {
		if f := strings.Fields(in); len(f) > 1 && (f[0] == "ENV" || f[0] == "ARG") &&
			regexp.MustCompile(`^(CGO_|GO(FLAGS|OS|ARCH|AMD64|EXPERIMENT)\b)`).MatchString(f[1]) {
			t.Errorf("Dockerfile: %q: set build settings on the go build line, where this test compares them with the Makefile", in)
		}
	}

	// The binary built is the one the image runs, as a non-root user.
	var from []string
	var copied, entrypoint, user, goVersion string
	for _, in := range ins {
		f := strings.Fields(in)
		switch f[0] {
		case "FROM":
			from = append(from, f[1])
		case "COPY":
			if strings.HasPrefix(f[1], "--from=") && len(f) == 4 && f[2] == docker.out {
				copied = f[3]
			}
		case "ENTRYPOINT":
			entrypoint = strings.TrimSpace(strings.TrimPrefix(in, "ENTRYPOINT"))
		case "USER":
			user = f[1]
		case "ARG":
			if v, ok := strings.CutPrefix(f[1], "GO_VERSION="); ok {
				goVersion = v
			}
		}
	}
	if len(from) < 2 || !strings.HasPrefix(from[len(from)-1], "gcr.io/distroless/static") || !strings.HasSuffix(from[len(from)-1], ":nonroot") {
		t.Errorf("Dockerfile stages %v: want a build stage and a final distroless/static …:nonroot", from)
	}
	if copied == "" || entrypoint != `["`+copied+`"]` {
		t.Errorf("Dockerfile: the binary built (%s) is copied to %q, ENTRYPOINT is %s", docker.out, copied, entrypoint)
	}
	if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
		t.Errorf("Dockerfile: USER %q, want nonroot", user)
	}
	// The build image's Go must be at least go.mod's.
	mod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if m == nil || goVersion != string(m[1]) || !strings.Contains(from[0], "${GO_VERSION}") {
		t.Errorf("Dockerfile: ARG GO_VERSION=%s in %s; go.mod says go %s", goVersion, from[0], m[1])
	}

	// CI runs what it built: `make test` builds it this way, then runs it.
	test := strings.Join(makeRecipe(t, "test"), "\n")
	for _, want := range []string{"$(MAKE) build-static", "$(BIN) --help", "$(BIN) validate"} {
		if !strings.Contains(test, want) {
			t.Errorf("Makefile test recipe lacks %q:\n%s", want, test)
		}
	}
}

// Containers may lack /usr/share/zoneinfo; campaigns need their zones.
func TestBinaryEmbedsTZData(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if imp.Path.Value == `"time/tzdata"` {
				return
			}
		}
	}
	t.Error(`cmd/tidings does not import _ "time/tzdata"`)
}

// dockerignore is a .dockerignore, matched as Docker's build context does
// (moby/patternmatcher): patterns are relative to the context root, * and ?
// stay within a path element, ** spans any number of them, a pattern that
// matches a folder excludes everything in it, and the last matching pattern
// (! negates) wins.
type dockerignore []struct {
	re      *regexp.Regexp
	exclude bool
}

func readDockerignore(t *testing.T) dockerignore {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var d dockerignore
	for _, line := range strings.Split(string(data), "\n") {
		p := strings.TrimSpace(line)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		exclude := true
		if strings.HasPrefix(p, "!") {
			exclude, p = false, strings.TrimSpace(p[1:])
		}
		p = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(p)), "/")
		var re strings.Builder
		re.WriteString("^")
		inClass := false
		for i := 0; i < len(p); i++ {
			switch c := p[i]; {
			case inClass:
				re.WriteByte(c) // [a-z] and [^/] pass through to the regexp
				inClass = c != ']'
			case c == '[':
				re.WriteByte(c)
				inClass = true
			case c == '*' && i+1 < len(p) && p[i+1] == '*':
				i++
				if i+1 < len(p) && p[i+1] == '/' {
					i++
				}
				if i+1 == len(p) {
					re.WriteString(".*")
				} else {
					re.WriteString("(.*/)?")
				}
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			case c == '\\' && i+1 < len(p):
				i++
				re.WriteString(regexp.QuoteMeta(string(p[i])))
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		d = append(d, struct {
			re      *regexp.Regexp
			exclude bool
		}{regexp.MustCompile(re.String()), exclude})
	}
	return d
}

// ignored reports whether path (slash-separated, relative to the context
// root) stays out of the build context.
func (d dockerignore) ignored(path string) bool {
	ignored := false
	for _, p := range d {
		match := false
		for prefix := path; prefix != "."; prefix = filepath.ToSlash(filepath.Dir(prefix)) {
			if p.re.MatchString(prefix) {
				match = true
				break
			}
		}
		if match {
			ignored = p.exclude
		}
	}
	return ignored
}

func TestDockerignoreMatching(t *testing.T) {
	t.Parallel()
	d := readDockerignore(t)
	for path, want := range map[string]bool{
		".git/config":                      true,
		"bin/tidings":                      true,
		".tidings/tidings.db":              true,
		".tidings/outbox/sent.log":         true,
		"outbox/sent.log":                  true,
		"artifacts/dashboard.png":          true,
		"tidings":                          true,
		"customers.db":                     true,
		"store/testdata/x.db":              true,
		"cmd/tidings/main.go":              false,
		"channels/outbox/outbox.go":        false, // a package named like the demo's folder
		"configs/tidings.yaml":             false,
		"templates/birthday-gift/sms.txt":  false,
		"store/migrations/sqlite/0001.sql": false,
		"go.mod":                           false,
	} {
		if got := d.ignored(path); got != want {
			t.Errorf("%s: ignored = %v, want %v", path, got, want)
		}
	}
}

// The image's build, without Docker: the context .dockerignore leaves, the
// Dockerfile's go build line, then the binary run as CI runs it and as the
// image does (the shipped configs, and the compose setup's tidings.yaml).
func TestDockerBuildContext(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	docker, _ := dockerfileBuild(t)
	ignore := readDockerignore(t)
	ctxDir := t.TempDir()
	err := filepath.WalkDir(repoRoot, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, path)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if ignore.ignored(rel) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		dst := filepath.Join(ctxDir, rel)
		if e.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if !e.Type().IsRegular() {
			return nil
		}
		return copyFile(path, dst)
	})
	if err != nil {
		t.Fatal(err)
	}

	bin := filepath.Join(t.TempDir(), "tidings")
	args := []string{"build"}
	for name, value := range docker.flags {
		args = append(args, name+"="+value)
	}
	args = append(append(args, "-o", bin), docker.packages...)
	build := exec.Command("go", args...)
	build.Dir = ctxDir
	build.Env = append(os.Environ(), "GOFLAGS=")
	for k, v := range docker.env {
		build.Env = append(build.Env, k+"="+v)
	}
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go %s in the build context: %v\n%s", strings.Join(args, " "), err, out)
	}

	if runtime.GOOS == "linux" {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		libs, _ := f.ImportedLibraries()
		if f.Section(".interp") != nil || len(libs) > 0 {
			t.Errorf("the binary is dynamically linked (%v): distroless/static has no libc", libs)
		}
		f.Close()
	}

	runBin := func(args ...string) {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("tidings %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	runBin("--help")
	runBin("healthcheck", "--help")
	// The image's /app/configs and /app/templates come from the context.
	runBin("--config", filepath.Join(ctxDir, "configs"), "--templates", filepath.Join(ctxDir, "templates"), "validate")
	// docker-compose.yml mounts its own tidings.yaml over the shipped one.
	composeConfigs := t.TempDir()
	if err := os.CopyFS(composeConfigs, os.DirFS(filepath.Join(ctxDir, "configs"))); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(filepath.Join(repoRoot, composeTidingsYAML), filepath.Join(composeConfigs, "tidings.yaml")); err != nil {
		t.Fatal(err)
	}
	runBin("--config", composeConfigs, "--templates", filepath.Join(ctxDir, "templates"), "validate")
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

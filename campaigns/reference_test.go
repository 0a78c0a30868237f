package campaigns_test

import (
	"bufio"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/goccy/go-yaml"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/templates"
)

// docs/reference.md lists the keys of each kind of file in tables that
// follow a marker line, <!-- keys: KIND -->; the first backticked word of a
// row's first cell is its key, a dotted path such as `schedule.cron`. A
// segment written <like-this> is a placeholder for any key. The tests below
// hold that reference, the loader and the configurations the tests load to
// one another, so the reference can neither fall behind the loader nor
// document a key that does not work.
const (
	referenceFile = "../docs/reference.md"
	referenceName = "docs/reference.md" // as messages name it
)

// The kinds of key tables, by their markers. The first three are the paths
// of keys in their files; conditions and operators are the keys inside a
// segment's `where` or a campaign's `audience.where`.
const (
	kindSettings = "tidings.yaml"
	kindRefused  = "tidings.yaml refused" // accepted by name only to be refused: secrets
	kindCampaign = "campaign"
	kindSegment  = "segment"
	kindCond     = "condition"
	kindOperator = "operator"
	kindTmplData = "template-data"
	kindTmplFile = "template-file"
)

// probe is a key no loader accepts and no typo hint points away from: the
// errors it causes list the keys that are accepted in its place.
const probe = "zzzzzzzz"

type refRow struct {
	key   string
	cells []string
	line  int
}

type reference map[string][]refRow

var (
	markerRe = regexp.MustCompile(`^<!-- keys: (.+) -->$`)
	codeRe   = regexp.MustCompile("`([^`]+)`")
)

// readReference extracts the key tables of docs/reference.md.
func readReference(t *testing.T) reference {
	t.Helper()
	f, err := os.Open(referenceFile)
	if err != nil {
		t.Fatalf("the reference: %v", err)
	}
	defer f.Close()
	ref := reference{}
	sc := bufio.NewScanner(f)
	kind, n, tableLine := "", 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if m := markerRe.FindStringSubmatch(line); m != nil {
			kind, tableLine = m[1], 0
			if _, dup := ref[kind]; dup {
				t.Fatalf("%s:%d: a second %q key table", referenceName, n, kind)
			}
			ref[kind] = nil
			continue
		}
		if kind == "" {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if line == "" && tableLine == 0 {
				continue // blank lines between the marker and its table
			}
			if tableLine == 0 {
				t.Fatalf("%s:%d: the %q marker is not followed by a table", referenceName, n, kind)
			}
			kind = ""
			continue
		}
		tableLine++
		if tableLine <= 2 { // the header and the --- line
			continue
		}
		cells := splitRow(line)
		m := codeRe.FindStringSubmatch(cells[0])
		if m == nil {
			t.Fatalf("%s:%d: the first cell of a %q row has no `key`", referenceName, n, kind)
		}
		ref[kind] = append(ref[kind], refRow{key: m[1], cells: cells, line: n})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{kindSettings, kindRefused, kindCampaign, kindSegment, kindCond, kindOperator, kindTmplData, kindTmplFile} {
		if len(ref[k]) == 0 {
			t.Fatalf("%s has no %q key table (<!-- keys: %s --> before it)", referenceName, k, k)
		}
	}
	return ref
}

func splitRow(line string) []string {
	line = strings.ReplaceAll(line, `\|`, "\x00")
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	cells := strings.Split(line, "|")
	for i, c := range cells {
		cells[i] = strings.TrimSpace(strings.ReplaceAll(c, "\x00", "|"))
	}
	return cells
}

// keys returns the table's keys, placeholders normalized.
func (r reference) keys(kind string) []string {
	var out []string
	for _, row := range r[kind] {
		out = append(out, normalize(row.key))
	}
	return out
}

func (r reference) row(kind, key string) (refRow, bool) {
	for _, row := range r[kind] {
		if normalize(row.key) == key {
			return row, true
		}
	}
	return refRow{}, false
}

// codes returns the backticked words of a cell.
func codes(cell string) []string {
	var out []string
	for _, m := range codeRe.FindAllStringSubmatch(cell, -1) {
		out = append(out, m[1])
	}
	return out
}

// normalize writes every placeholder segment of a path, <name> in the
// reference and NAME in the loader's hints, as "*".
func normalize(path string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		if strings.HasPrefix(p, "<") && strings.HasSuffix(p, ">") || p != "" && strings.ToUpper(p) == p && strings.ToLower(p) != p {
			parts[i] = "*"
		}
	}
	return strings.Join(parts, ".")
}

// documented reports whether a path matches one of the patterns.
func documented(patterns []string, path string) bool {
	segs := strings.Split(path, ".")
	for _, p := range patterns {
		ps := strings.Split(p, ".")
		if len(ps) != len(segs) {
			continue
		}
		ok := true
		for i := range ps {
			if ps[i] != "*" && ps[i] != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// configDir is a configuration folder some test loads, and the templates
// folder it goes with.
type configDir struct{ dir, templates string }

// configDirs finds every valid configuration folder in the repository: a
// folder with a tidings.yaml, or with YAML files in segments/ or
// campaigns/. The invalid fixtures are left out. Its templates are the
// sibling templates/ folder if there is one, else the shipped templates.
func configDirs(t *testing.T) []configDir {
	t.Helper()
	const root = ".."
	invalid := filepath.Join(root, "campaigns", "testdata", "invalid")
	var dirs []configDir
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") || path == invalid {
			return filepath.SkipDir
		}
		if !isConfigDir(path) {
			return nil
		}
		tmpl := filepath.Join(filepath.Dir(path), "templates")
		if st, err := os.Stat(tmpl); err != nil || !st.IsDir() {
			tmpl = filepath.Join(root, "templates")
		}
		dirs = append(dirs, configDir{dir: path, templates: tmpl})
		t.Logf("loading %s with the templates of %s", path, tmpl)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"configs", "campaigns/testdata/reference/configs", "campaigns/testdata/reference/sms-from"} {
		if !slices.ContainsFunc(dirs, func(c configDir) bool { return c.dir == filepath.Join(root, want) }) {
			t.Fatalf("configuration folder %s not found among %v", want, dirs)
		}
	}
	return dirs
}

func isConfigDir(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "tidings.yaml")); err == nil {
		return true
	}
	for _, sub := range []string{"segments", "campaigns"} {
		for _, ext := range []string{"*.yaml", "*.yml"} {
			if m, _ := filepath.Glob(filepath.Join(dir, sub, ext)); len(m) > 0 {
				return true
			}
		}
	}
	return false
}

// usage is every key the loaded configurations use, with the first file
// that uses it.
type usage struct {
	keys  map[string]map[string]string // kind → key path → file
	ops   map[string]map[string]string // condition key → operator → file
	lists map[string]bool              // kind:path whose value is a list of mappings
}

func (u *usage) add(kind, path, file string) {
	if u.keys[kind] == nil {
		u.keys[kind] = map[string]string{}
	}
	if _, ok := u.keys[kind][path]; !ok {
		u.keys[kind][path] = file
	}
}

// loadUsage loads every configuration folder with campaigns.Load, which
// must accept it, and collects the keys its files use.
func loadUsage(t *testing.T) *usage {
	t.Helper()
	u := &usage{keys: map[string]map[string]string{}, ops: map[string]map[string]string{}, lists: map[string]bool{}}
	for _, c := range configDirs(t) {
		if _, err := campaigns.Load(c.dir, c.templates); err != nil {
			t.Fatalf("%s does not load, so its keys prove nothing: fix it first:\n%v", c.dir, err)
		}
		u.file(t, kindSettings, filepath.Join(c.dir, "tidings.yaml"))
		for _, kind := range []string{kindSegment, kindCampaign} {
			files, _ := filepath.Glob(filepath.Join(c.dir, kind+"s", "*.y*ml"))
			for _, f := range files {
				u.file(t, kind, f)
			}
		}
	}
	return u
}

func (u *usage) file(t *testing.T, kind, file string) {
	t.Helper()
	src, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	u.walk(kind, doc, "", strings.TrimPrefix(file, "../"))
}

// walk collects the dotted paths of a mapping; the keys of a list's
// mappings count under the list's path (follow_ups.after).
func (u *usage) walk(kind string, m map[string]any, prefix, file string) {
	for k, v := range m {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		u.add(kind, path, file)
		if kind == kindSegment && path == "where" || kind == kindCampaign && path == "audience.where" {
			u.condition(v, file)
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			u.walk(kind, v, path, file)
		case []any:
			for _, it := range v {
				if im, ok := it.(map[string]any); ok {
					u.lists[kind+":"+path] = true
					u.walk(kind, im, path, file)
				}
			}
		}
	}
}

// condKey is a condition key as the reference lists it.
func condKey(k string) string {
	if strings.HasPrefix(k, "attributes.") {
		return "attributes.*"
	}
	return k
}

func (u *usage) condition(v any, file string) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, val := range m {
		key := condKey(k)
		u.add(kindCond, key, file)
		switch k {
		case "all", "any":
			items, _ := val.([]any)
			for _, it := range items {
				u.condition(it, file)
			}
		case "not":
			u.condition(val, file)
		case "segment":
		default:
			ops, ok := val.(map[string]any)
			if !ok {
				continue // a shorthand: eq or in
			}
			for op := range ops {
				if u.ops[key] == nil {
					u.ops[key] = map[string]string{}
				}
				if _, ok := u.ops[key][op]; !ok {
					u.ops[key][op] = file
				}
				if k != "tags" && k != "birthday" {
					u.add(kindOperator, op, file)
				}
			}
		}
	}
}

// TestReferenceKeys checks that every key of the reference's tables is used
// in a configuration the tests load, and that every key those
// configurations use is in the reference.
func TestReferenceKeys(t *testing.T) {
	ref := readReference(t)
	u := loadUsage(t)
	for _, kind := range []string{kindSettings, kindCampaign, kindSegment, kindCond, kindOperator} {
		for _, row := range ref[kind] {
			key := normalize(row.key)
			if !slices.ContainsFunc(slices.Collect(maps.Keys(u.keys[kind])), func(p string) bool { return documented([]string{key}, p) }) {
				t.Errorf("%s:%d documents `%s` (%q table), but no configuration the tests load uses it, so nothing shows it works: "+
					"use it in a sample under configs/ if that makes the sample better, else in campaigns/testdata/reference/",
					referenceName, row.line, row.key, kind)
			}
		}
		for _, path := range slices.Sorted(maps.Keys(u.keys[kind])) {
			if !documented(ref.keys(kind), path) {
				t.Errorf("%s uses `%s`, which %s does not document: add a row for it to the %q key table",
					u.keys[kind][path], path, referenceName, kind)
			}
		}
	}
	// The operators of tags and birthday are listed in their rows.
	for _, key := range []string{"tags", "birthday"} {
		row, ok := ref.row(kindCond, key)
		if !ok || len(row.cells) < 3 {
			t.Errorf("%s's %q key table has no `%s` row with its operators in the third column", referenceName, kindCond, key)
			continue
		}
		ops := codes(row.cells[2])
		for _, op := range ops {
			if _, ok := u.ops[key][op]; !ok {
				t.Errorf("%s:%d documents `%s: {%s: …}`, but no configuration the tests load uses it: add it to campaigns/testdata/reference/",
					referenceName, row.line, key, op)
			}
		}
		for op, file := range u.ops[key] {
			if !slices.Contains(ops, op) {
				t.Errorf("%s uses `%s: {%s: …}`, which %s does not list in the operators of `%s`",
					file, key, op, referenceName, key)
			}
		}
	}
}

// TestReferenceMatchesLoader asks the loader itself which keys it accepts:
// an unknown key's error lists the valid ones when no typo hint is closer.
// Every mapping the reference documents must have exactly the keys the
// loader accepts there; every field exactly its operators.
func TestReferenceMatchesLoader(t *testing.T) {
	ref := readReference(t)
	u := loadUsage(t)
	for _, kind := range []string{kindSettings, kindCampaign, kindSegment} {
		keys := ref.keys(kind)
		if kind == kindSettings {
			keys = append(keys, ref.keys(kindRefused)...)
		}
		children := map[string][]string{"": nil}
		for _, k := range keys {
			parent, child := "", k
			if i := strings.LastIndexByte(k, '.'); i >= 0 {
				parent, child = k[:i], k[i+1:]
			}
			children[parent] = append(children[parent], child)
			if _, ok := children[k]; !ok {
				children[k] = nil
			}
		}
		for _, path := range slices.Sorted(maps.Keys(children)) {
			doc := children[path]
			if slices.Contains(doc, "*") {
				continue // free keys, such as the locales of channels.sms.footer
			}
			accepted, ok := probeMapping(t, kind, path, u.lists)
			name := path
			if name == "" {
				name = "the top level"
			}
			switch {
			case !ok && len(doc) > 0:
				t.Errorf("%s documents keys under `%s` in %s files, but the loader takes no mapping there", referenceName, path, kind)
			case ok:
				for _, k := range accepted {
					if !slices.Contains(doc, k) {
						t.Errorf("the loader accepts `%s` at %s of %s files, but %s does not document it: add a row for `%s` to the %q key table",
							k, name, kind, referenceName, join(path, k), kind)
					}
				}
				for _, k := range doc {
					if !slices.Contains(accepted, k) {
						t.Errorf("%s documents `%s`, but the loader rejects it (it accepts %s at %s): fix or remove the row",
							referenceName, join(path, k), strings.Join(accepted, ", "), name)
					}
				}
			}
		}
	}

	// Refused keys are refused, at their own position.
	for _, row := range ref[kindRefused] {
		errs := loadProbe(t, kindSettings, nest(strings.Split(row.key, "."), "x", nil, ""))
		if !slices.ContainsFunc(errs, func(e *campaigns.Error) bool { return strings.HasPrefix(e.Msg, row.key+": ") }) {
			t.Errorf("%s:%d says `%s` is refused, but the loader gives no error for it: %v", referenceName, row.line, row.key, errs)
		}
	}

	// Conditions: the keys, then each field's operators.
	condKeys := probeHint(t, map[string]any{probe: 1}, "fields: ")
	if condKeys == nil {
		t.Fatal("the loader's unknown-field error lists no fields")
	}
	for i, k := range condKeys {
		condKeys[i] = normalize(k)
	}
	doc := ref.keys(kindCond)
	for _, k := range condKeys {
		if !slices.Contains(doc, k) {
			t.Errorf("the loader accepts the condition key `%s`, but %s does not document it: add a row to the %q key table", k, referenceName, kindCond)
		}
	}
	var fieldOps []string
	for _, row := range ref[kindCond] {
		key := normalize(row.key)
		if !slices.Contains(condKeys, key) {
			t.Errorf("%s:%d documents the condition key `%s`, but the loader rejects it", referenceName, row.line, row.key)
			continue
		}
		field := strings.ReplaceAll(key, "*", "probe")
		got := probeHint(t, map[string]any{field: map[string]any{probe: 1}}, "operators for "+field+": ", "valid keys: ")
		if len(row.cells) < 3 {
			t.Errorf("%s:%d: a %q row needs the operators in its third column", referenceName, row.line, kindCond)
			continue
		}
		want := codes(row.cells[2])
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s:%d lists the operators of `%s` as [%s]; the loader takes [%s]", referenceName, row.line, row.key,
				strings.Join(want, " "), strings.Join(got, " "))
		}
		if key != "tags" && key != "birthday" {
			for _, op := range got {
				if !slices.Contains(fieldOps, op) {
					fieldOps = append(fieldOps, op)
				}
			}
		}
	}
	ops := ref.keys(kindOperator)
	for _, op := range fieldOps {
		if !slices.Contains(ops, op) {
			t.Errorf("fields take the operator `%s`, but %s's %q table does not list it", op, referenceName, kindOperator)
		}
	}
	for _, row := range ref[kindOperator] {
		if !slices.Contains(fieldOps, row.key) {
			t.Errorf("%s:%d lists the operator `%s`, but no field takes it", referenceName, row.line, row.key)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// nest builds the YAML value that puts val at path; the paths of lists
// get a list of one mapping.
func nest(path []string, val any, lists map[string]bool, kind string) map[string]any {
	m := map[string]any{}
	cur := m
	for i, k := range path {
		list := lists[kind+":"+strings.Join(path[:i+1], ".")]
		if i == len(path)-1 {
			cur[k] = val
			if list {
				cur[k] = []any{val}
			}
			break
		}
		next := map[string]any{}
		cur[k] = next
		if list {
			cur[k] = []any{next}
		}
		cur = next
	}
	return m
}

// probeMapping returns the keys the loader accepts in the mapping at path of
// a kind of file, and false when it takes no mapping there.
func probeMapping(t *testing.T, kind, path string, lists map[string]bool) ([]string, bool) {
	t.Helper()
	var doc map[string]any
	if path == "" {
		doc = map[string]any{probe: 1}
	} else {
		doc = nest(strings.Split(path, "."), map[string]any{probe: 1}, lists, kind)
	}
	for _, e := range loadProbe(t, kind, doc) {
		if strings.HasPrefix(e.Msg, `unknown key "`+probe+`" in `) {
			list, ok := strings.CutPrefix(e.Hint, "valid keys: ")
			if !ok {
				t.Fatalf("probing %s at %q: the hint %q lists no valid keys", kind, path, e.Hint)
			}
			return strings.Split(list, ", "), true
		}
	}
	return nil, false
}

// probeHint loads a segment whose where is cond and returns the list of the
// error about the probe whose hint starts with one of prefixes, or nil.
func probeHint(t *testing.T, cond map[string]any, prefixes ...string) []string {
	t.Helper()
	for _, e := range loadProbe(t, kindSegment, map[string]any{"name": "probe", "where": cond}) {
		if !strings.Contains(e.Msg, `"`+probe+`"`) {
			continue
		}
		for _, p := range prefixes {
			if list, ok := strings.CutPrefix(e.Hint, p); ok {
				var out []string
				for _, part := range strings.Split(list, "; or ") {
					out = append(out, strings.Split(part, ", ")...)
				}
				return out
			}
		}
	}
	return nil
}

// loadProbe writes doc as a file of a kind into an empty configuration
// folder, loads it and returns the errors.
func loadProbe(t *testing.T, kind string, doc map[string]any) []*campaigns.Error {
	t.Helper()
	dir := t.TempDir()
	src, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "tidings.yaml")
	if kind != kindSettings {
		os.MkdirAll(filepath.Join(dir, kind+"s"), 0o755)
		file = filepath.Join(dir, kind+"s", "probe.yaml")
	}
	if err := os.WriteFile(file, src, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = campaigns.Load(dir, dir)
	var errs campaigns.Errors
	if err != nil && !errors.As(err, &errs) {
		t.Fatal(err)
	}
	return errs
}

var exampleFileRe = regexp.MustCompile(`^# (configs/(?:tidings\.yaml|segments/[a-z0-9_-]+\.yaml|campaigns/[a-z0-9_-]+\.yaml))$`)

// TestReferenceExamples loads the examples of docs/*.md that are whole
// files, those whose first line names one (# configs/campaigns/x.yaml). A
// tidings.yaml is loaded on its own; segments and campaigns together, on
// top of a copy of the shipped configuration, with the shipped templates.
func TestReferenceExamples(t *testing.T) {
	docs, _ := filepath.Glob("../docs/*.md")
	if len(docs) == 0 {
		t.Fatal("no docs/*.md")
	}
	files := map[string]string{} // configs/… → content
	where := map[string]string{} // configs/… → doc:line
	settings := 0
	for _, doc := range docs {
		src, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(src), "\n")
		for i := 0; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) != "```yaml" {
				continue
			}
			start := i + 1
			end := start
			for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
				end++
			}
			i = end
			if start >= end {
				continue
			}
			m := exampleFileRe.FindStringSubmatch(lines[start])
			if m == nil {
				continue
			}
			at := filepath.Base(doc) + ":" + strconv.Itoa(start+1)
			body := strings.Join(lines[start:end], "\n") + "\n"
			if m[1] == "configs/tidings.yaml" {
				settings++
				dir := t.TempDir()
				os.WriteFile(filepath.Join(dir, "tidings.yaml"), []byte(body), 0o644)
				if _, err := campaigns.Load(dir, "../templates"); err != nil {
					t.Errorf("docs/%s: the example tidings.yaml does not load:\n%v", at, err)
				}
				continue
			}
			if prev, dup := files[m[1]]; dup && prev != body {
				t.Errorf("docs/%s and docs/%s are both %s, with different contents: rename one", where[m[1]], at, m[1])
			}
			files[m[1]], where[m[1]] = body, at
		}
	}
	if settings == 0 || len(files) == 0 {
		t.Fatalf("found %d tidings.yaml and %d other whole-file examples; the reference has both", settings, len(files))
	}
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "configs"), os.DirFS("../configs")); err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(files[name]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := campaigns.Load(filepath.Join(dir, "configs"), "../templates"); err != nil {
		var at []string
		for _, name := range slices.Sorted(maps.Keys(where)) {
			at = append(at, name+" is docs/"+where[name])
		}
		t.Errorf("the examples of docs/*.md, with the shipped configs/, do not load:\n%s\n(%s)",
			strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""), strings.Join(at, "; "))
	}
}

// TestReferenceTemplateData checks the reference's template data against
// templates.Data: every documented field resolves, and every exported field
// and method (and those of Customer and Coupon) is documented.
func TestReferenceTemplateData(t *testing.T) {
	ref := readReference(t)
	data := reflect.TypeFor[templates.Data]()
	var doc []string
	for _, row := range ref[kindTmplData] {
		doc = append(doc, row.key)
		if !resolves(data, strings.Split(strings.TrimPrefix(row.key, "."), ".")) {
			t.Errorf("%s:%d documents `%s`, which templates.Data does not have", referenceName, row.line, row.key)
		}
	}
	var want []string
	for i := range data.NumMethod() {
		want = append(want, "."+data.Method(i).Name)
	}
	for i := range data.NumField() {
		f := data.Field(i)
		if !f.IsExported() {
			continue
		}
		want = append(want, "."+f.Name)
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft.PkgPath() == data.PkgPath() {
			want = slices.DeleteFunc(want, func(s string) bool { return s == "."+f.Name })
			for j := range ft.NumField() {
				if ft.Field(j).IsExported() {
					want = append(want, "."+f.Name+"."+ft.Field(j).Name)
				}
			}
		}
	}
	for _, w := range want {
		if !slices.Contains(doc, w) {
			t.Errorf("templates can use `%s`, but %s's %q table does not document it", w, referenceName, kindTmplData)
		}
	}
}

// resolves reports whether a template path such as Customer.Birthday.Year
// names a field or method of t.
func resolves(t reflect.Type, path []string) bool {
	for i, name := range path {
		if _, ok := t.MethodByName(name); ok {
			return i == len(path)-1
		}
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return false
		}
		f, ok := t.FieldByName(name)
		if !ok || !f.IsExported() {
			return false
		}
		t = f.Type
	}
	return true
}

// TestReferenceTemplateFiles loads a template folder holding each documented
// file, in its default and a locale variant.
func TestReferenceTemplateFiles(t *testing.T) {
	ref := readReference(t)
	for _, row := range ref[kindTmplFile] {
		fsys := fstest.MapFS{}
		if dir, _, ok := strings.Cut(row.key, "/"); ok {
			fsys[row.key] = &fstest.MapFile{Data: []byte(`<html>{{template "content" .}}</html>`)}
			fsys["t/email.html"] = &fstest.MapFile{Data: []byte("<p>{{.Brand}}</p>")}
			if !strings.HasPrefix(dir, "_") {
				t.Errorf("%s:%d: `%s` is in a folder that would be a template", referenceName, row.line, row.key)
			}
		} else {
			ext := filepath.Ext(row.key)
			fsys["t/"+row.key] = &fstest.MapFile{Data: []byte("{{.Brand}}")}
			fsys["t/"+strings.TrimSuffix(row.key, ext)+".zh-CN"+ext] = &fstest.MapFile{Data: []byte("{{.Brand}}")}
		}
		if _, err := templates.LoadFS(fsys); err != nil {
			t.Errorf("%s:%d documents the template file `%s`, but the templates do not load with it: %v", referenceName, row.line, row.key, err)
		}
	}
}

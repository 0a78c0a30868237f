package reload

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidings/tidings/campaigns"
	"github.com/tidings/tidings/templates"
)

// Loader loads and checks a configuration and its templates. An error
// rejects both; errors.Join and campaigns.Errors are logged one problem a
// line.
type Loader func() (*campaigns.Config, *templates.Set, error)

// Holder holds the last good configuration and templates of a running
// command. Its methods are safe for concurrent use.
type Holder struct {
	// Interval is how often Watch looks at the files; zero means a second.
	// Set it before Watch starts.
	Interval time.Duration

	load Loader
	dirs []string
	log  *slog.Logger
	cur  atomic.Pointer[current]

	mu    sync.Mutex        // one load at a time
	tried [sha256.Size]byte // the files as the last load found them, good or bad
}

// current is one load: a configuration and the templates checked with it,
// swapped together.
type current struct {
	cfg  *campaigns.Config
	tmpl *templates.Set
}

// New returns a Holder that loads with load and watches the files under
// dirs (the configuration and templates folders). It holds nothing until
// the first successful Reload.
func New(load Loader, log *slog.Logger, dirs ...string) *Holder {
	return &Holder{load: load, dirs: dirs, log: log}
}

// Config returns the last good configuration, or nil before the first
// successful Reload.
func (h *Holder) Config() *campaigns.Config {
	if c := h.cur.Load(); c != nil {
		return c.cfg
	}
	return nil
}

// Templates returns the templates loaded with Config.
func (h *Holder) Templates() *templates.Set {
	if c := h.cur.Load(); c != nil {
		return c.tmpl
	}
	return nil
}

// Reload loads the configuration and templates again. On success they
// replace the held ones. On error the held ones stay, and the error is
// returned and, unless this was the first load (the caller reports that
// one), logged with every problem.
func (h *Holder) Reload() error { return h.reload("request") }

func (h *Holder) reload(trigger string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	// Hashed before loading: an edit made during the load changes the hash
	// again, and Watch loads once more.
	h.tried = h.sum()
	cfg, tmpl, err := h.load()
	if err == nil && (cfg == nil || tmpl == nil) {
		err = errors.New("the loader returned no configuration")
	}
	first := h.cur.Load() == nil
	if err != nil {
		if !first {
			ps := problems(err)
			h.log.Error("configuration rejected; keeping the last good one", "trigger", trigger, "errors", len(ps))
			for _, p := range ps {
				h.log.Error("configuration error", "err", p)
			}
		}
		return err
	}
	h.cur.Store(&current{cfg: cfg, tmpl: tmpl})
	if !first {
		h.log.Info("configuration reloaded", "trigger", trigger,
			"campaigns", len(cfg.Campaigns), "segments", len(cfg.Segments), "templates", len(tmpl.Names()))
	}
	return nil
}

// Watch reloads on every value from sighup (nil: never) and when the files
// under the folders change, until ctx ends. Changed files are loaded once
// they have stayed the same for one Interval, so a save an editor makes in
// several steps is loaded once, complete. Files that change back and forth
// to content already tried, good or bad, are not loaded again; a SIGHUP
// always loads.
func (h *Holder) Watch(ctx context.Context, sighup <-chan os.Signal) {
	tick := time.NewTicker(cmp.Or(h.Interval, time.Second))
	defer tick.Stop()
	var previous [sha256.Size]byte // the files at the previous tick
	for {
		select {
		case <-ctx.Done():
			return
		case <-sighup:
			h.reload("sighup")
		case <-tick.C:
			sum := h.sum()
			h.mu.Lock()
			tried := h.tried
			h.mu.Unlock()
			if sum != tried && sum == previous {
				h.reload("files")
			}
			previous = sum
		}
	}
}

// sum hashes the names and contents of the files under the folders.
func (h *Holder) sum() [sha256.Size]byte {
	d := sha256.New()
	for _, dir := range h.dirs {
		hashTree(d, dir, 0)
	}
	var s [sha256.Size]byte
	d.Sum(s[:0])
	return s
}

// maxDepth bounds the walk, against a symlink that points to its own folder.
const maxDepth = 8

// hashTree writes the paths and contents of the files under dir to d. It
// follows symlinks, as the loaders do (a ConfigMap's files are symlinks),
// and skips names starting with ".", as the loaders do: editors' swap files
// come and go without a reload. An error becomes part of the hash, so it
// changing is a change too.
func hashTree(d hash.Hash, dir string, depth int) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		fmt.Fprintf(d, "%q: %v\n", dir, err)
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			fmt.Fprintf(d, "%q: %v\n", p, err)
		case fi.IsDir():
			fmt.Fprintf(d, "%q dir\n", p)
			if depth < maxDepth {
				hashTree(d, p, depth+1)
			}
		case !fi.Mode().IsRegular():
			fmt.Fprintf(d, "%q %v\n", p, fi.Mode()) // reading a FIFO would block
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				fmt.Fprintf(d, "%q: %v\n", p, err)
				continue
			}
			fmt.Fprintf(d, "%q %d\n", p, len(b))
			d.Write(b)
		}
	}
}

// problems splits an error into the problems it lists.
func problems(err error) []error {
	switch e := err.(type) {
	case campaigns.Errors:
		out := make([]error, len(e))
		for i, p := range e {
			out[i] = p
		}
		return out
	case interface{ Unwrap() []error }: // errors.Join
		var out []error
		for _, p := range e.Unwrap() {
			out = append(out, problems(p)...)
		}
		return out
	}
	return []error{err}
}

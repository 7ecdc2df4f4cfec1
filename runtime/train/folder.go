package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/google/renameio/v2"
	"golang.org/x/sys/unix"
)

// The files of a run folder besides its checkpoint.
const (
	configFile  = "config.json"
	metricsFile = "metrics.jsonl"
	lockFile    = "lock"
)

func (r *Run) metricsPath() string { return filepath.Join(r.Dir, metricsFile) }

// lockFolder takes an exclusive lock (flock) on dir/lock, which then
// holds this process's ID. The lock lasts as long as the returned file
// is open, and at most as long as the process: a lock file that a killed
// trainer left blocks nobody. A folder another trainer holds is an
// InputError naming its process.
func lockFolder(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking the run folder: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder := "another process"
			if b, err := os.ReadFile(path); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
					holder = fmt.Sprintf("process %d", pid)
				}
			}
			return nil, &InputError{fmt.Errorf("%s is in use: %s is training there (it holds %s); wait for it to finish or stop it, or use another --out", dir, holder, path)}
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return f, nil
}

// removeStale deletes the temp files that a run killed while writing
// left in its folder: those of the atomic writes (a dot, the file's name
// and digits) and any *.tmp. Only a run holding the folder's lock may
// call it.
func removeStale(dir string) error {
	for _, d := range []string{dir, filepath.Join(dir, "checkpoints")} {
		entries, err := os.ReadDir(d)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Type().IsRegular() && isTemp(e.Name()) {
				if err := os.Remove(filepath.Join(d, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
		}
	}
	return nil
}

// isTemp reports whether name is a temp file of a run folder's atomic
// writes (renameio's ".NAME<digits>") or ends in .tmp.
func isTemp(name string) bool {
	if strings.HasSuffix(name, ".tmp") {
		return true
	}
	for _, f := range []string{configFile, metricsFile, "last.safetensors"} {
		if digits, ok := strings.CutPrefix(name, "."+f); ok && digits != "" && strings.Trim(digits, "0123456789") == "" {
			return true
		}
	}
	return false
}

// writeAtomic replaces path with b: a temp file beside it, fsynced and
// renamed over it.
func writeAtomic(path string, b []byte) error {
	return renameio.WriteFile(path, b, 0o644, renameio.WithTempDir(filepath.Dir(path)))
}

// writeConfig writes c to dir/config.json.
func writeConfig(dir string, c Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, configFile), append(b, '\n'))
}

// checkConfigFile checks dir/config.json, if there is one, against the
// settings c of a resumed run: they must be the same but for --epochs.
func checkConfigFile(dir string, c Config) error {
	path := filepath.Join(dir, configFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	var had Config
	if err := json.Unmarshal(b, &had); err != nil {
		return &InputError{fmt.Errorf("%s: %w: it is the run's settings; restore it, or delete it to resume with the checkpoint's", path, err)}
	}
	if d := configDiff(had, c); d != "" {
		return &InputError{fmt.Errorf("%s holds a run with other settings (%s); resume it with the same flags (only --epochs may change) or use another --out", path, d)}
	}
	return nil
}

// configDiff lists the settings in which the run's config had and a
// command's c differ, up to the number of epochs (a run may be
// extended), as "key: run's value, now value; ..."; "" if none do.
func configDiff(had, c Config) string {
	had.Epochs, c.Epochs = 0, 0
	fields := func(c Config) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		b, _ := json.Marshal(c)
		json.Unmarshal(b, &m)
		return m
	}
	a, b := fields(had), fields(c)
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var diffs []string
	for _, k := range keys {
		if !bytes.Equal(a[k], b[k]) {
			diffs = append(diffs, fmt.Sprintf("%s: run %s, now %s", k, orNone(a[k]), orNone(b[k])))
		}
	}
	return strings.Join(diffs, "; ")
}

func orNone(v json.RawMessage) string {
	if v == nil {
		return "unset"
	}
	return string(v)
}

// encodeMetrics is metrics.jsonl's text for the epochs' metrics.
func encodeMetrics(history []Metrics) ([]byte, error) {
	var b []byte
	for _, m := range history {
		line, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		b = append(append(b, line...), '\n')
	}
	return b, nil
}

// writeMetrics makes dir/metrics.jsonl hold exactly the history's lines
// (atomically; nothing is written if it already does, or if there is no
// file and no history).
func writeMetrics(dir string, history []Metrics) error {
	want, err := encodeMetrics(history)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, metricsFile)
	have, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && len(want) == 0:
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	case err == nil && bytes.Equal(have, want):
		return nil
	}
	return writeAtomic(path, want)
}

// appendJSONL appends v as a JSON line to path.
func appendJSONL(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// repairMetrics makes metrics.jsonl the run's history, one line per
// finished epoch. A checkpoint written before checkpoints held their
// metrics has no history: the file's own lines of the finished epochs
// (the last one of each epoch) are taken, and become the history.
func (r *Run) repairMetrics() error {
	if len(r.history) < r.state.Epoch {
		steps, err := r.stepsPerEpoch()
		if err != nil {
			return err
		}
		old, err := readMetrics(r.metricsPath())
		if err != nil {
			return err
		}
		r.history = mergeHistory(r.history, old, r.state.Epoch, steps)
	}
	return writeMetrics(r.Dir, r.history)
}

// readMetrics reads the lines of a metrics.jsonl that parse; a missing
// file has none.
func readMetrics(path string) ([]Metrics, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var out []Metrics
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, len(b)+1)
	for sc.Scan() {
		var m Metrics
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// mergeHistory adds to history the lines of old for the epochs up to
// epochs that history lacks and that are valid (checkMetrics), the last
// one of each epoch, and returns them in epoch order.
func mergeHistory(history, old []Metrics, epochs, steps int) []Metrics {
	have := map[int]bool{}
	for _, m := range history {
		have[m.Epoch] = true
	}
	latest := map[int]Metrics{}
	for _, m := range old {
		if !have[m.Epoch] && m.Epoch >= 1 && m.Epoch <= epochs && checkMetrics(m, steps) == nil {
			latest[m.Epoch] = m
		}
	}
	for _, m := range latest {
		history = append(history, m)
	}
	slices.SortFunc(history, func(a, b Metrics) int { return a.Epoch - b.Epoch })
	return history
}

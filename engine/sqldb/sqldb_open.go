package sqldb

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"scalelab/engine"
)

// OpenData creates a node's database file under the lab's directory, with
// the seed data, and the system closes it. Every database with the same
// shape and seed starts from a copy of one seeded file: seeding is the
// costly part (most of a step's start), and a copy holds the same rows.
func OpenData(sys *engine.System, name string, shape DataShape, seed int64) (*SQLData, error) {
	tmpl, err := seeded(sys, shape, seed)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(sys.Dir, name+".db")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, err = f.Write(tmpl)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return nil, fmt.Errorf("seed %s: %w", path, err)
	}
	data, err := OpenSQLFile(path, shape)
	if err != nil {
		return nil, err
	}
	sys.OnClose(data.Close)
	return data, nil
}

// templates are the seeded files' bytes, by shape and seed, kept for the
// life of the process: in memory, so no file outlives the lab that made it.
// A seeded file of the default shape is a few hundred kilobytes.
var templates = struct {
	sync.Mutex
	m        map[string][]byte
	seedings int // how many were seeded (for tests)
}{m: map[string][]byte{}}

// seeded returns the bytes of a closed database file with shape and seed,
// seeding one under this lab's directory the first time the process asks.
func seeded(sys *engine.System, shape DataShape, seed int64) ([]byte, error) {
	key := fmt.Sprintf("%+v|%d", shape, seed)
	templates.Lock()
	defer templates.Unlock()
	if b, ok := templates.m[key]; ok {
		return b, nil
	}
	p := filepath.Join(sys.Dir, fmt.Sprintf("seed-%d.db", len(templates.m)+1))
	d, err := OpenSQL(p, shape, seed)
	if err != nil {
		return nil, err
	}
	if err := d.Close(); err != nil { // the last close folds the WAL into the file
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(p); err != nil {
		return nil, err
	}
	templates.m[key] = b
	templates.seedings++
	return b, nil
}

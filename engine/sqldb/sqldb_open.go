package sqldb

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"scalelab/engine"
)

// OpenData creates a node's database file under the lab's directory, with
// the seed data, and the system closes it. Nodes of one lab with the same
// shape and seed start from a copy of one seeded file: seeding is the
// costly part, and a copy holds the same rows.
func OpenData(sys *engine.System, name string, shape DataShape, seed int64) (*SQLData, error) {
	tmpl, err := seeded(sys, shape, seed)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(sys.Dir, name+".db")
	if err := copyFile(tmpl, path); err != nil {
		return nil, fmt.Errorf("seed %s: %w", path, err)
	}
	data, err := OpenSQLFile(path, shape)
	if err != nil {
		return nil, err
	}
	sys.OnClose(data.Close)
	return data, nil
}

// templates are the seeded files, one per lab directory, shape and seed.
var templates = struct {
	sync.Mutex
	m    map[string]string
	next int
}{m: map[string]string{}}

// seeded returns the path of a closed database file with shape and seed,
// seeding it the first time this lab asks.
func seeded(sys *engine.System, shape DataShape, seed int64) (string, error) {
	key := fmt.Sprintf("%s|%+v|%d", sys.Dir, shape, seed)
	templates.Lock()
	defer templates.Unlock()
	if p, ok := templates.m[key]; ok {
		return p, nil
	}
	templates.next++
	p := filepath.Join(sys.Dir, fmt.Sprintf("seed-%d.db", templates.next))
	d, err := OpenSQL(p, shape, seed)
	if err != nil {
		return "", err
	}
	if err := d.Close(); err != nil { // the last close folds the WAL into the file
		return "", err
	}
	templates.m[key] = p
	sys.OnClose(func() error {
		templates.Lock()
		delete(templates.m, key)
		templates.Unlock()
		return nil
	})
	return p, nil
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

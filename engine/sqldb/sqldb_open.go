package sqldb

import (
	"path/filepath"
	"scalelab/engine"
)

// OpenData creates and seeds a node's database file under the lab's
// directory; the system closes it.
func OpenData(sys *engine.System, name string, shape DataShape, seed int64) (*SQLData, error) {
	data, err := OpenSQL(filepath.Join(sys.Dir, name+".db"), shape, seed)
	if err != nil {
		return nil, err
	}
	sys.OnClose(data.Close)
	return data, nil
}

package engine

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Size is a modelled machine size: its workers (how many requests it works
// on at once) and its cost per hour. Each size up doubles the workers and
// costs more than double, and the largest size is a hard ceiling, as with
// real instance families.
type Size struct {
	Name     string
	Workers  int
	CostHour float64 // modelled, in dollars
}

// Sizes returns the machine sizes, smallest first.
func Sizes() []Size {
	return []Size{
		{"small", 2, 0.05},
		{"medium", 4, 0.12},
		{"large", 8, 0.30},
		{"xlarge", 16, 0.80},
		{"2xlarge", 32, 2.40},
	}
}

// SizeNames lists the size names, smallest first.
func SizeNames() []string {
	var out []string
	for _, s := range Sizes() {
		out = append(out, s.Name)
	}
	return out
}

// SizeByName finds a size.
func SizeByName(name string) (Size, error) {
	for _, s := range Sizes() {
		if s.Name == name {
			return s, nil
		}
	}
	return Size{}, fmt.Errorf("size %q: have %s", name, strings.Join(SizeNames(), ", "))
}

// QueueFor is the queue length a machine of this many workers gets.
func QueueFor(workers int) int { return 8*workers + 16 }

// Sized is a node whose modelled machine size can change live: its
// capacity's workers and queue follow the size.
type Sized struct {
	capacity *Capacity

	mu   sync.Mutex
	size Size
}

// Resize changes the machine size live.
func (z *Sized) Resize(name string) error {
	s, err := SizeByName(name)
	if err != nil {
		return err
	}
	z.capacity.Resize(s.Workers, QueueFor(s.Workers))
	z.mu.Lock()
	z.size = s
	z.mu.Unlock()
	return nil
}

// Size returns the current size.
func (z *Sized) Size() Size {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.size
}

// NewMachine makes a node's server on a modelled machine of the named size:
// its workers and queue come from the size.
func NewMachine(sys *System, cfg ServerConfig, size string, h http.HandlerFunc) (*Server, *Sized, error) {
	s, err := SizeByName(size)
	if err != nil {
		return nil, nil, err
	}
	cfg.Capacity = NewCapacity(s.Workers, QueueFor(s.Workers))
	srv := NewServer(cfg, sys.Clock, sys.Events, h)
	return srv, &Sized{capacity: cfg.Capacity, size: s}, nil
}

// Fill adds the size and its modelled cost to a node's snapshot.
func (z *Sized) Fill(n *NodeSnap) {
	s := z.Size()
	n.Size, n.CostHour = s.Name, s.CostHour
}

package chapters

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrUnknownChapter is returned by Find.
var ErrUnknownChapter = errors.New("unknown chapter")

// All returns the chapters in order. Each call returns fresh values.
func All() []*Chapter {
	return []*Chapter{Tiers(), Scaling(), LoadBalancer(), Replication(), Cache(), CDN()}
}

// Find returns a chapter by id or number.
func Find(s string) (*Chapter, error) {
	all := All()
	if n, err := strconv.Atoi(s); err == nil {
		for _, c := range all {
			if c.Number == n {
				return c, nil
			}
		}
	}
	for _, c := range all {
		if strings.EqualFold(c.ID, s) {
			return c, nil
		}
	}
	var ids []string
	for _, c := range all {
		ids = append(ids, fmt.Sprintf("%d %s", c.Number, c.ID))
	}
	return nil, fmt.Errorf("%w %q (have %s)", ErrUnknownChapter, s, strings.Join(ids, ", "))
}

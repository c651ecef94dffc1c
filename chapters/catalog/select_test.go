package catalog_test

import (
	"testing"

	"scalelab/chapters"
	"scalelab/chapters/catalog"
)

// A step's Select names a node its built topology has, so the lab can
// select it when the step starts. The steps whose text tells the learner to
// act on one named node set it.
func TestSelectNamesANode(t *testing.T) {
	n := 0
	for _, ch := range catalog.All() {
		for i, st := range ch.Steps {
			if st.Select == "" {
				continue
			}
			n++
			s, err := chapters.Build(ch, i, chapters.Options{})
			if err != nil {
				t.Errorf("%s/%s: %v", ch.ID, st.ID, err)
				continue
			}
			snap := s.Sys.Snapshot()
			if _, ok := snap.Node(st.Select); !ok {
				var names []string
				for _, nd := range snap.Nodes {
					names = append(names, nd.Name)
				}
				t.Errorf("%s/%s selects %q; its nodes are %v", ch.ID, st.ID, st.Select, names)
			}
			if err := s.Close(); err != nil {
				t.Errorf("%s/%s: close: %v", ch.ID, st.ID, err)
			}
		}
	}
	if n < 8 {
		t.Errorf("%d steps select a node, want the 8 whose text names one", n)
	}
}

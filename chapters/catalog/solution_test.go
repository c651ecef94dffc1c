package catalog_test

import (
	"testing"

	"scalelab/chapters/catalog"
)

// Every step ships a solution whose script parses and whose actions fall
// within its duration. (Each chapter's own tests play them on the real
// components; chaptertest.Main fails a chapter package whose tests left a
// step's solution unplayed.)
func TestEveryStepHasASolution(t *testing.T) {
	for _, ch := range catalog.All() {
		for i, st := range ch.Steps {
			where := ch.ID + "/" + st.ID
			if st.Solution.For <= 0 {
				t.Errorf("%s (step %d) has no solution", where, i+1)
				continue
			}
			lines, err := st.Solution.Lines()
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			for _, l := range lines {
				if l.At >= st.Solution.For {
					t.Errorf("%s: solution line %d at %s is past its end at %s", where, l.Line, l.At, st.Solution.For)
				}
			}
			if got := st.Solution.Steps(st.Keys); len(got) != len(lines)+1 {
				t.Errorf("%s: the lab shows %d solution lines for %d actions", where, len(got), len(lines))
			}
		}
	}
}

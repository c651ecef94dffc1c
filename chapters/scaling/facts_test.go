package scaling

import (
	"testing"

	"scalelab/chapters/internal/chaptertest"
)

func TestFactsHaveLabels(t *testing.T) { chaptertest.CheckFactLabels(t) }

package tiers

import (
	"scalelab/chapters"
	"scalelab/chapters/internal/chaptertest"
	"testing"
	"time"
)

// These tests start the real components on loopback and check each
// lesson's claim from what the run measured. They run one at a time: each
// is a real-time load on a 2-core machine.

func TestTiersSplitKeepsPagesFastUnderDataLoad(t *testing.T) {
	script := "8s set load.mix data-heavy"
	one := chaptertest.RunStep(t, Tiers(), 1, 19*time.Second, chapters.Options{}, script)
	split := chaptertest.RunStep(t, Tiers(), 2, 19*time.Second, chapters.Options{}, script)
	oneHeavy, splitHeavy := chaptertest.Fact(t, one, "page_p99_ms_one_box"), chaptertest.Fact(t, split, "page_p99_ms_split")
	t.Logf("page p99 under data-heavy load: one box %.1f ms, split %.1f ms", oneHeavy, splitHeavy)
	if oneHeavy < 2*splitHeavy {
		t.Errorf("one box page p99 %.1f ms should be well above split %.1f ms: data work delays pages on one box", oneHeavy, splitHeavy)
	}
	if !chaptertest.Met(one, "data-heavy") || !chaptertest.Met(split, "data-heavy-split") {
		t.Errorf("objectives not met: %v / %v", one.Objectives, split.Objectives)
	}
}

func TestTiersKeyValueFeedIsOneReadButWritesFanOut(t *testing.T) {
	rep := chaptertest.RunStep(t, Tiers(), 3, 16*time.Second, chapters.Options{Rate: 150}, "8s set data.store kv")
	sqlFeed, kvFeed := chaptertest.Fact(t, rep, "sql_feed_p50_ms"), chaptertest.Fact(t, rep, "kv_feed_p50_ms")
	kvRead, kvWrite := chaptertest.Fact(t, rep, "kv_read_p50_ms"), chaptertest.Fact(t, rep, "kv_write_p50_ms")
	t.Logf("feed p50: sql join %.2f ms, kv list %.2f ms; kv read %.2f ms, kv write %.2f ms", sqlFeed, kvFeed, kvRead, kvWrite)
	if kvFeed >= sqlFeed {
		t.Errorf("a denormalised feed (%.2f ms) should be faster than the join (%.2f ms)", kvFeed, sqlFeed)
	}
	if kvWrite <= kvRead {
		t.Errorf("a kv write fans out to every follower: %.2f ms should exceed a point read %.2f ms", kvWrite, kvRead)
	}
	if !chaptertest.Met(rep, "both-stores") {
		t.Errorf("both-stores not met: %v", rep.Lesson)
	}
}

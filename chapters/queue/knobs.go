package queue

import (
	"strconv"

	"scalelab/engine"
	mq "scalelab/engine/queue"
)

// The knobs' values, in the order their keys cycle them.
var (
	modeValues      = []string{mq.ModeInline, mq.ModeQueued}
	workerValues    = []string{"1", "2", "3", "4", "5", "6", "7", "8"}
	partitionValues = []string{"1", "4"}
	// retentionValues: entries each stream keeps; "all" trims nothing
	retentionValues = []string{"all", "300", "1000"}
)

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func (l *lab) knobs(tn tune) error {
	all := map[string]func() *engine.Knob{
		"queue.mode": func() *engine.Knob {
			return engine.NewKnob("queue.mode", modeValues, tn.mode, func(v string) error { l.front.SetMode(v); return nil })
		},
		"queue.workers": func() *engine.Knob {
			return engine.NewKnob("queue.workers", workerValues, strconv.Itoa(tn.workers), func(v string) error {
				n, err := strconv.Atoi(v)
				if err != nil {
					return err
				}
				return l.setWorkers(n)
			})
		},
		"queue.idempotent": func() *engine.Knob {
			return engine.NewKnob("queue.idempotent", []string{"off", "on"}, onOff(tn.idem), func(v string) error { l.q.SetIdempotent(v == "on"); return nil })
		},
		"queue.partitions": func() *engine.Knob {
			return engine.NewKnob("queue.partitions", partitionValues, "1", func(v string) error {
				n, err := strconv.Atoi(v)
				if err == nil {
					l.log.SetPartitions(n)
				}
				return err
			})
		},
		"queue.retention": func() *engine.Knob {
			return engine.NewKnob("queue.retention", retentionValues, "all", func(v string) error {
				if v == "all" {
					l.log.SetRetention(0)
					return nil
				}
				n, err := strconv.Atoi(v)
				if err == nil {
					l.log.SetRetention(n)
				}
				return err
			})
		},
	}
	for _, k := range tn.knobs {
		l.sys.AddKnob(all[k]())
	}
	return nil
}

package queue

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Msg is one message: an order's event.
type Msg struct {
	ID     string // the stream entry's id
	Stream string
	Order  int64
	Seq    int    // the event's place among its order's events, from 1
	Kind   string // created, paid, shipped; completed in a one-event log
	Amount int64  // cents
	Poison bool   // no worker can handle it
	At     time.Duration
	// Parts is how many partitions the log had when the event was
	// appended (1: one stream for every key).
	Parts int
}

// Key is the message's idempotency key: the same order event, whatever
// delivery it arrived by.
func (m Msg) Key() string { return fmt.Sprintf("%d/%d", m.Order, m.Seq) }

func (m Msg) values() map[string]any {
	v := map[string]any{"order": m.Order, "seq": m.Seq, "kind": m.Kind, "amount": m.Amount, "at": int64(m.At), "parts": m.Parts}
	if m.Poison {
		v["poison"] = 1
	}
	return v
}

func parseMsg(stream string, x redis.XMessage) Msg {
	m := Msg{ID: x.ID, Stream: stream}
	num := func(k string) int64 {
		s, _ := x.Values[k].(string)
		n, _ := strconv.ParseInt(s, 10, 64)
		return n
	}
	m.Order, m.Seq, m.Amount, m.At, m.Parts = num("order"), int(num("seq")), num("amount"), time.Duration(num("at")), int(num("parts"))
	m.Kind, _ = x.Values["kind"].(string)
	m.Poison = num("poison") == 1
	return m
}

// idLess orders stream ids ("ms-seq").
func idLess(a, b string) bool {
	am, as := splitID(a)
	bm, bs := splitID(b)
	if am != bm {
		return am < bm
	}
	return as < bs
}

func splitID(id string) (uint64, uint64) {
	a, b, _ := strings.Cut(id, "-")
	x, _ := strconv.ParseUint(a, 10, 64)
	y, _ := strconv.ParseUint(b, 10, 64)
	return x, y
}

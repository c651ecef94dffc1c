package engine

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is what an Action does.
type Kind string

// Action kinds. Keys in the TUI and lines in chaos scripts both become
// Actions; the engine applies them the same way.
const (
	ActKill    Kind = "kill"      // crash a node: listeners and connections close
	ActRestart Kind = "restart"   // bring a dead node back (after a boot time)
	ActLatency Kind = "latency"   // add latency to a node or link (0 clears)
	ActRate    Kind = "rate"      // set the base arrival rate
	ActSpike   Kind = "spike"     // multiply the rate for a while
	ActSet     Kind = "set"       // set a chapter knob
	ActAdd     Kind = "add"       // add a node of a role (e.g. a web server behind the LB)
	ActRemove  Kind = "remove"    // remove a node at once
	ActDrain   Kind = "drain"     // stop sending new requests to a node, remove it when idle
	ActPause   Kind = "pause"     // pause the lab clock
	ActResume  Kind = "resume"    // resume the lab clock
	ActSpeed   Kind = "speed"     // set the lab clock speed
	ActCut     Kind = "partition" // cut every link of a node; it stays up
	ActHeal    Kind = "heal"      // restore a partitioned node's links
)

// coreKinds are the actions the core parses and carries out itself (add,
// remove and drain through the handlers a topology registers). Any other
// kind is a component's: it takes at most a target, and the system carries
// it out with the handler registered for it, or refuses it.
var coreKinds = []Kind{ActKill, ActRestart, ActLatency, ActRate, ActSpike, ActSet, ActAdd, ActRemove, ActDrain, ActCut, ActHeal, ActPause, ActResume, ActSpeed}

// Action is one command to the engine.
type Action struct {
	Kind   Kind
	Target string        // node name, link "a>b", "@role" or "@random-role"
	Dur    time.Duration // latency to add; spike length
	Value  float64       // rate; spike factor; clock speed
	Key    string        // knob name for ActSet
	Str    string        // knob value for ActSet
}

func (a Action) String() string {
	switch a.Kind {
	case ActKill, ActRestart, ActRemove, ActDrain, ActCut, ActHeal:
		return fmt.Sprintf("%s %s", a.Kind, a.Target)
	case ActLatency:
		return fmt.Sprintf("latency %s %s", a.Target, a.Dur)
	case ActRate:
		return fmt.Sprintf("rate %g", a.Value)
	case ActSpike:
		return fmt.Sprintf("spike %gx %s", a.Value, a.Dur)
	case ActSet:
		return fmt.Sprintf("set %s %s", a.Key, a.Str)
	case ActAdd:
		return fmt.Sprintf("add %s", a.Target)
	case ActSpeed:
		return fmt.Sprintf("speed %gx", a.Value)
	default:
		if a.Target != "" {
			return fmt.Sprintf("%s %s", a.Kind, a.Target)
		}
		return string(a.Kind)
	}
}

// Timed is an action at a lab time, one line of a chaos script.
type Timed struct {
	At     time.Duration
	Action Action
	Line   int
}

// ScriptError names the chaos-script line that is wrong.
type ScriptError struct {
	Name string // "chaos" or a file name
	Line int
	Msg  string
}

func (e *ScriptError) Error() string { return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg) }

// Unwrap makes every ScriptError match ErrBadScript.
func (e *ScriptError) Unwrap() error { return ErrBadScript }

// ErrBadScript is wrapped by every ScriptError-carrying failure.
var ErrBadScript = errors.New("bad chaos script")

// ParseScript reads a chaos script: one action a line, `AT ACTION TARGET
// [ARGS]`, `#` starts a comment. It checks syntax only; whether a target
// exists is checked against a running system by Resolve.
func ParseScript(name, src string) ([]Timed, error) {
	var out []Timed
	src = strings.TrimPrefix(src, "\ufeff") // a byte order mark, as some editors write
	for i, raw := range strings.Split(src, "\n") {
		line := raw
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		for k := range f {
			f[k] = shorten(f[k])
		}
		bad := func(format string, args ...any) error {
			return &ScriptError{Name: name, Line: i + 1, Msg: fmt.Sprintf(format, args...)}
		}
		at, err := parseDur(f[0])
		if err != nil || at < 0 {
			return nil, bad("%q is not a time (want e.g. 5s, 1m30s)", f[0])
		}
		if len(f) < 2 {
			return nil, bad("missing action after %s (want kill, restart, latency, rate, spike, set, add, remove, drain, partition, heal)", f[0])
		}
		a, err := ParseAction(f[1:])
		if err != nil {
			return nil, bad("%v", err)
		}
		out = append(out, Timed{At: at, Action: a, Line: i + 1})
	}
	// stable order by time, keeping line order for equal times
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].At < out[j-1].At; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// shorten cuts a field no action accepts at this length, so an error
// quotes it short; the cut field stays invalid (no token holds "…").
func shorten(s string) string {
	const max = 48
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// ParseAction reads the fields of one action without its time, e.g.
// ["latency", "web-2", "200ms"].
func ParseAction(f []string) (Action, error) {
	if len(f) == 0 {
		return Action{}, errors.New("empty action")
	}
	kind := Kind(strings.ToLower(f[0]))
	args := f[1:]
	need := func(n int, usage string) error {
		if len(args) != n {
			return fmt.Errorf("%s takes %s", kind, usage)
		}
		return nil
	}
	switch kind {
	case ActKill, ActRestart, ActRemove, ActDrain:
		if err := need(1, "a target (a node name, @role or @random-role)"); err != nil {
			return Action{}, err
		}
		if err := checkTarget(args[0]); err != nil {
			return Action{}, err
		}
		return Action{Kind: kind, Target: args[0]}, nil
	case ActCut, ActHeal:
		if err := need(1, "a node or a group of nodes cut off together (partition db-1,web-1)"); err != nil {
			return Action{}, err
		}
		for _, t := range strings.Split(args[0], ",") {
			if err := checkTarget(t); err != nil {
				return Action{}, err
			}
		}
		return Action{Kind: kind, Target: args[0]}, nil
	case ActAdd:
		if err := need(1, "a role (e.g. web)"); err != nil {
			return Action{}, err
		}
		role := strings.TrimPrefix(args[0], "@")
		if err := checkTarget(role); err != nil {
			return Action{}, fmt.Errorf("add takes a role (e.g. web): %w", err)
		}
		if strings.ContainsAny(role, "@>") {
			return Action{}, fmt.Errorf("add takes a role (e.g. web), not %q", args[0])
		}
		return Action{Kind: kind, Target: role}, nil
	case ActLatency:
		if err := need(2, "a target and a duration (latency web-2 200ms)"); err != nil {
			return Action{}, err
		}
		if err := checkTarget(args[0]); err != nil {
			return Action{}, err
		}
		d, err := parseDur(args[1])
		if err != nil || d < 0 || d > time.Minute {
			return Action{}, fmt.Errorf("latency %q is not a duration between 0 and 1m", args[1])
		}
		return Action{Kind: kind, Target: args[0], Dur: d}, nil
	case ActRate:
		if err := need(1, "requests per second (rate 800)"); err != nil {
			return Action{}, err
		}
		r, err := strconv.ParseFloat(args[0], 64)
		if err != nil || !(r >= 0 && r <= MaxRate) {
			return Action{}, fmt.Errorf("rate %q is not a number from 0 to %d", args[0], MaxRate)
		}
		return Action{Kind: kind, Value: r}, nil
	case ActSpike:
		if err := need(2, "a factor and a duration (spike 5x 10s)"); err != nil {
			return Action{}, err
		}
		x, err := strconv.ParseFloat(strings.TrimSuffix(strings.ToLower(args[0]), "x"), 64)
		if err != nil || !(x >= 1 && x <= 20) {
			return Action{}, fmt.Errorf("spike factor %q is not between 1x and 20x", args[0])
		}
		d, err := parseDur(args[1])
		if err != nil || d <= 0 || d > 10*time.Minute {
			return Action{}, fmt.Errorf("spike length %q is not a duration up to 10m", args[1])
		}
		return Action{Kind: kind, Value: x, Dur: d}, nil
	case ActSet:
		if err := need(2, "a knob and a value (set lb.policy least-conn)"); err != nil {
			return Action{}, err
		}
		return Action{Kind: kind, Key: args[0], Str: args[1]}, nil
	case ActPause, ActResume:
		if err := need(0, "nothing"); err != nil {
			return Action{}, err
		}
		return Action{Kind: kind}, nil
	case ActSpeed:
		if err := need(1, "a factor (speed 2x)"); err != nil {
			return Action{}, err
		}
		x, err := strconv.ParseFloat(strings.TrimSuffix(strings.ToLower(args[0]), "x"), 64)
		if err != nil || !(x >= MinSpeed && x <= MaxSpeed) {
			return Action{}, fmt.Errorf("speed %q is not between 0.25x and 4x", args[0])
		}
		return Action{Kind: kind, Value: x}, nil
	}
	if !plainWord(string(kind)) {
		return Action{}, fmt.Errorf("unknown action %q (want %s, or an action of this chapter)", f[0], kindList(coreKinds))
	}
	// a component's action: at most a target; the system checks that some
	// component or chapter carries it out
	if len(args) > 1 {
		return Action{}, fmt.Errorf("%s takes at most a target", kind)
	}
	a := Action{Kind: kind}
	if len(args) == 1 {
		if err := checkTarget(args[0]); err != nil {
			return Action{}, err
		}
		a.Target = args[0]
	}
	return a, nil
}

// plainWord reports whether s could name an action: lower-case letters and
// inner dashes.
func plainWord(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '-') {
			return false
		}
	}
	return true
}

func kindList(kinds []Kind) string {
	var b strings.Builder
	for i, k := range kinds {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(k))
	}
	return b.String()
}

// MaxRate is the highest arrival rate the generator accepts.
const MaxRate = 50000

func parseDur(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	return time.ParseDuration(s)
}

func checkTarget(t string) error {
	if t == "" || t == "@" || t == "@random-" {
		return fmt.Errorf("target %q is empty", t)
	}
	alias := strings.HasPrefix(t, "@")
	for _, r := range t {
		// an alias may name a group: @dc:eu
		if alias && r == ':' {
			continue
		}
		if !(r == '-' || r == '_' || r == '@' || r == '>' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Errorf("target %q has a character %q that no node name has", t, r)
		}
	}
	return nil
}

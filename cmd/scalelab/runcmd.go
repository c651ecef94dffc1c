package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"scalelab/chapters/catalog"
	"time"

	"scalelab/chapters"
	"scalelab/engine"
)

type runFlags struct {
	step     int
	duration time.Duration
	rate     float64
	chaos    string
	seed     int64
	json     bool
	solution bool
	knobs    bool
}

// parseInterleaved parses flags that may come before or after positional
// arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	msg := err.Error()
	return badInput("%s (see scalelab --help)", msg)
}

func runCmd(ctx context.Context, args []string, e env) error {
	var f runFlags
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&f.step, "step", 1, "")
	fs.DurationVar(&f.duration, "duration", 30*time.Second, "")
	fs.Float64Var(&f.rate, "rate", 0, "")
	fs.StringVar(&f.chaos, "chaos", "", "")
	fs.Int64Var(&f.seed, "seed", 1, "")
	fs.BoolVar(&f.json, "json", false, "")
	fs.BoolVar(&f.solution, "solution", false, "")
	fs.BoolVar(&f.knobs, "knobs", false, "")
	redisServer := redisServerFlag(fs)
	lang := langFlag(fs, e)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stdout, runUsage)
			return errHelp
		}
		return badInput("run: %v (see scalelab run --help)", err)
	}
	if len(pos) != 1 {
		return badInput("run takes one chapter, e.g. scalelab run loadbalancer (see scalelab run --help)")
	}
	ch, err := catalog.Find(pos[0])
	if err != nil {
		return badInput("%v", err)
	}
	if err := checkLang(*lang); err != nil {
		return err
	}
	switch {
	case f.step < 1 || f.step > len(ch.Steps):
		return badInput("--step %d: %s has steps 1 to %d", f.step, ch.ID, len(ch.Steps))
	case f.duration <= 0 || f.duration > time.Hour:
		return badInput("--duration %s: want a duration above 0 and at most 1h", f.duration)
	case !(f.rate >= 0 && f.rate <= engine.MaxRate): // NaN too
		return badInput("--rate %g: want 0 (the step's own) to %d requests per second", f.rate, engine.MaxRate)
	}
	if err := useRedisServer(*redisServer, e); err != nil {
		return err
	}
	if f.knobs {
		only := -1
		fs.Visit(func(fl *flag.Flag) {
			if fl.Name == "step" {
				only = f.step - 1
			}
		})
		if err := checkTempDir(); err != nil {
			return err
		}
		steps, err := chapterKnobs(ch, only)
		if err != nil {
			return err
		}
		printKnobs(e.stdout, ch, steps, *lang)
		return nil
	}
	var script []engine.Timed
	name := "chaos"
	if f.solution {
		if f.chaos != "" {
			return badInput("--solution and --chaos: play one script at a time")
		}
		sol := ch.Steps[f.step-1].Solution
		if sol.For <= 0 {
			return fmt.Errorf("%s step %d has no solution", ch.ID, f.step)
		}
		if script, err = sol.Lines(); err != nil {
			return err
		}
		name = "solution"
		durationSet := false
		fs.Visit(func(fl *flag.Flag) { durationSet = durationSet || fl.Name == "duration" })
		if !durationSet {
			f.duration = sol.For
		}
	}
	if f.chaos != "" {
		var src []byte
		if f.chaos == "-" {
			src, err = io.ReadAll(e.stdin)
		} else {
			name = f.chaos
			src, err = os.ReadFile(f.chaos)
		}
		if err != nil {
			return badInput("--chaos: %v", err)
		}
		script, err = engine.ParseScript(name, string(src))
		if err != nil {
			return badInput("%v", err)
		}
	}
	if err := checkTempDir(); err != nil {
		return err
	}
	var status io.Writer = e.stderr
	rep, err := chapters.Headless(ctx, chapters.RunConfig{
		Chapter: ch, Step: f.step - 1, Duration: f.duration,
		Options: chapters.Options{Rate: f.rate, Seed: f.seed},
		Script:  script, ScriptName: name, Status: status,
	})
	if err != nil {
		if errors.Is(err, chapters.ErrBadTarget) {
			var se *engine.ScriptError
			if errors.As(err, &se) {
				return badInput("%v", se)
			}
			return badInput("%v", err)
		}
		return err
	}
	if f.json {
		enc := json.NewEncoder(e.stdout)
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprint(e.stdout, rep.Text())
	}
	if rep.Stopped {
		return errInterrupted
	}
	return nil
}

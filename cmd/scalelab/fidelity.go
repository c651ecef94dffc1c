package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"scalelab/engine/kv"
	"scalelab/fidelity"
)

const fidelityUsage = `Usage: scalelab fidelity [--only AREAS] [--json] [--redis-server PATH]

Checks the lab's components against the real software they stand in for:
the same fixed work is replayed against each, one after the other in this
run, and the measures are printed side by side, each row with its
tolerance and a verdict.

  cache    eviction: hit ratio, evictions and keys held for allkeys-lru,
           allkeys-lfu and allkeys-random at 5%, 20% and 50% of the keys
           (200k GETs, set on a miss, Zipf 1.1 over 20k keys, 100-byte
           values), and the memory a key costs, vs redis-server
  lb       p50/p99 per policy with one server of fewer workers, and the
           p99 ratio least-conn/round-robin, vs HAProxy (roundrobin,
           leastconn, random(2)) in front of the same web servers
  streams  a scripted work-queue and consumer-group sequence (XREADGROUP,
           XACK, XPENDING, XAUTOCLAIM, lag), miniredis vs redis-server
  ttl      session and cache TTL expiry, miniredis vs redis-server

It needs redis-server (7 or later) and haproxy on PATH; without them it
says how to install them and exits 2. It takes about 20 seconds.

Flags:
  --only AREAS         a comma-separated subset of cache,lb,streams,ttl
  --json               print the rows as one JSON object
  --redis-server PATH  the redis-server to compare against (default:
                       SCALELAB_REDIS_SERVER, else redis-server on PATH)

A row that differs is a failure, except the differences of miniredis this
suite found and listed, none on a path the lab uses: those print "known",
with the reason.

Exit status: 0 every row within its tolerance or known, 1 a row differs or
a run failed, 2 bad input or a program missing (nothing run), 130
interrupted.
`

// fidelityAreas are the comparisons, in the order they run.
var fidelityAreas = []string{"cache", "lb", "streams", "ttl"}

func fidelityCmd(ctx context.Context, args []string, e env) error {
	fs := flag.NewFlagSet("fidelity", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	only := fs.String("only", strings.Join(fidelityAreas, ","), "")
	asJSON := fs.Bool("json", false, "")
	redisPath := fs.String("redis-server", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stdout, fidelityUsage)
			return errHelp
		}
		return badInput("fidelity: %v (see scalelab fidelity --help)", err)
	}
	if fs.NArg() > 0 {
		return badInput("fidelity takes no arguments, got %q (see scalelab fidelity --help)", fs.Arg(0))
	}
	var areas []string
	for _, a := range strings.Split(*only, ",") {
		a = strings.TrimSpace(a)
		if !slices.Contains(fidelityAreas, a) {
			return badInput("fidelity: --only %q: %q is not one of %s", *only, a, strings.Join(fidelityAreas, ", "))
		}
		if !slices.Contains(areas, a) {
			areas = append(areas, a)
		}
	}
	if *redisPath == "" {
		*redisPath = e.getenv(kv.EnvServer)
	}
	tools, err := fidelity.FindTools(*redisPath)
	if err != nil {
		return badInput("fidelity: %v", err)
	}
	var rows []fidelity.Row
	for _, a := range areas {
		fmt.Fprintf(e.stderr, "fidelity: %s ...\n", a)
		var got []fidelity.Row
		switch a {
		case "cache":
			got, err = fidelity.Cache(ctx, tools, fidelity.DefaultCacheTrace)
		case "lb":
			got, err = fidelity.LB(ctx, tools)
		case "streams":
			got, err = fidelity.Streams(ctx, tools)
		case "ttl":
			got, err = fidelity.TTL(ctx, tools)
		}
		if ctx.Err() != nil {
			return errInterrupted
		}
		if err != nil {
			return fmt.Errorf("fidelity %s: %w", a, err)
		}
		rows = append(rows, got...)
	}
	differ, known := 0, 0
	for _, r := range rows {
		switch r.Verdict() {
		case "differs":
			differ++
		case "known":
			known++
		}
	}
	if *asJSON {
		out := struct {
			Rows   []fidelity.Row `json:"rows"`
			Differ int            `json:"rows_differing"`
			Known  int            `json:"rows_known_differences"`
		}{rows, differ, known}
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, string(b))
	} else {
		printFidelity(e.stdout, rows)
		fmt.Fprintf(e.stdout, "\n%d rows: %d within tolerance, %d known differences of miniredis (below), %d differ\n", len(rows), len(rows)-differ-known, known, differ)
		for _, r := range rows {
			if r.Verdict() == "known" {
				fmt.Fprintf(e.stdout, "  known: %s: %s\n", r.Case, r.Known)
			}
		}
	}
	if differ > 0 {
		return fmt.Errorf("fidelity: %d of %d rows differ beyond their tolerance", differ, len(rows))
	}
	return nil
}

// printFidelity writes the side-by-side table, one block per area.
func printFidelity(w io.Writer, rows []fidelity.Row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	area := ""
	for _, r := range rows {
		if r.Area != area {
			if area != "" {
				fmt.Fprintln(tw)
			}
			area = r.Area
			fmt.Fprintf(tw, "%s (vs %s)\tmetric\tlab\treal\ttolerance\tverdict\n", strings.ToUpper(area), r.Against)
		}
		lab, real := fmtFig(r.Lab), fmtFig(r.Real)
		if r.LabText != "" || r.RealText != "" {
			lab, real = clipText(r.LabText), clipText(r.RealText)
		}
		verdict := r.Verdict()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Case, r.Metric, lab, real, r.Tolerance, verdict)
	}
	tw.Flush()
}

// fmtFig prints a measure with the digits that matter.
func fmtFig(v float64) string {
	switch {
	case v == float64(int64(v)):
		return fmt.Sprintf("%d", int64(v))
	case v < 1 && v > -1:
		return fmt.Sprintf("%.4f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func clipText(s string) string {
	if len(s) > 40 {
		return s[:39] + "…"
	}
	return s
}

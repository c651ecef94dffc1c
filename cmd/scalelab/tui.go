package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"scalelab/chapters/catalog"
	"strings"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/term"

	"scalelab/assets"
	"scalelab/lab"
)

func langFlag(fs *flag.FlagSet, e env) *string {
	return fs.String("lang", assets.DetectLang(e.getenv), "")
}

func checkLang(lang string) error {
	for _, l := range assets.Langs() {
		if l == lang {
			return nil
		}
	}
	return badInput("--lang %q: want %s", lang, strings.Join(assets.Langs(), " or "))
}

// parseNoArgs parses a command's flags, which take no positional
// arguments (extra names the first in the message), and checks --lang.
func parseNoArgs(fs *flag.FlagSet, args []string, e env, lang *string, extra string) error {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stdout, mainUsage())
			return errHelp
		}
		return flagError(err)
	}
	if len(pos) > 0 {
		return badInput(extra, pos[0])
	}
	return checkLang(*lang)
}

func tuiCmd(ctx context.Context, args []string, e env) error {
	fs := flag.NewFlagSet("scalelab", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	chapter := fs.String("chapter", "", "")
	redisServer := redisServerFlag(fs)
	lang := langFlag(fs, e)
	if err := parseNoArgs(fs, args, e, lang, "unknown command %q (want run, list or no command; see scalelab --help)"); err != nil {
		return err
	}
	if *chapter != "" {
		if _, err := catalog.Find(*chapter); err != nil {
			return badInput("--chapter: %v", err)
		}
	}
	if err := useRedisServer(*redisServer, e); err != nil {
		return err
	}
	dir, err := writableConfigDir(e)
	if err != nil {
		return err
	}
	if err := checkTempDir(); err != nil {
		return err
	}
	if f, ok := e.stdout.(*os.File); !ok || !term.IsTerminal(f.Fd()) {
		return badInput("the lab needs a terminal; for a run without one use: scalelab run CHAPTER (see scalelab run --help)")
	}
	err = lab.Run(ctx, lab.Options{Course: catalog.All(), Chapter: *chapter, Lang: *lang, ConfigDir: dir, Out: e.stdout, In: e.stdin})
	if err == nil && ctx.Err() != nil {
		// a signal (SIGINT, SIGTERM, SIGHUP from outside) ended the lab,
		// not the q key: the lab stopped cleanly, and says so as the
		// headless run does
		return errInterrupted
	}
	return err
}

// padWidth pads s with spaces to w terminal columns (Korean letters take
// two each).
func padWidth(s string, w int) string {
	if n := ansi.StringWidth(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

func listCmd(args []string, e env) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	lang := langFlag(fs, e)
	if err := parseNoArgs(fs, args, e, lang, "list takes no arguments, got %q"); err != nil {
		return err
	}
	dir, err := configDir(e)
	if err != nil {
		return err
	}
	prog, err := lab.LoadProgress(dir)
	if err != nil {
		fmt.Fprintf(e.stderr, "scalelab: %v\n", err) // set aside, not fatal
	}
	ui := assets.UI(*lang)
	all := catalog.All()
	next, _ := prog.Next(all)
	for _, ch := range all {
		title := ch.ID
		if l, err := assets.LoadLesson(*lang, ch.ID); err == nil {
			title = l.Title
		}
		status := ui.T("list.not_started")
		if p := prog.Chapters[ch.ID]; p != nil {
			switch {
			case p.Done:
				status = "✓ " + ui.T("list.done")
			default:
				// a saved step past the chapter's end (an older, longer
				// chapter, or a hand-edited file) shows as its last step
				status = fmt.Sprintf(ui.T("list.at_step"), min(max(p.Step, 0), len(ch.Steps)-1)+1, len(ch.Steps))
			}
		}
		mark := " "
		if next != nil && next.ID == ch.ID {
			mark = "▸"
		}
		fmt.Fprintf(e.stdout, "%s %2d  %-13s %s  %s\n", mark, ch.Number, ch.ID, padWidth(title, 44), status)
	}
	return nil
}

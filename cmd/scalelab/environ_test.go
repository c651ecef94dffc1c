package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An environment scalelab cannot run in gets one line naming what to set
// and exit status 3, before anything starts.
func TestUnusableEnvironmentExitsThree(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		config, tmp string // "" leaves it as the test has it
		home        bool   // unset HOME and XDG_CONFIG_HOME
		args        []string
		want        string
	}{
		{name: "config dir under a file", config: filepath.Join(file, "scalelab"), args: []string{"--chapter", "1"}, want: "set SCALELAB_CONFIG_DIR"},
		{name: "no home for the config dir", home: true, args: []string{"list"}, want: "set SCALELAB_CONFIG_DIR"},
		{name: "no home, the lab", home: true, args: []string{}, want: "set SCALELAB_CONFIG_DIR"},
		{name: "temp dir missing, the lab", tmp: filepath.Join(file, "tmp"), args: []string{"--chapter", "tiers"}, want: "set TMPDIR"},
		{name: "temp dir missing, a run", tmp: filepath.Join(file, "tmp"), args: []string{"run", "tiers", "--duration", "1s"}, want: "set TMPDIR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := t.TempDir() // before TMPDIR changes
			if tc.tmp != "" {
				t.Setenv("TMPDIR", tc.tmp)
			}
			if tc.config != "" {
				cfg = tc.config
			}
			if tc.home {
				t.Setenv("HOME", "")
				t.Setenv("XDG_CONFIG_HOME", "")
				cfg = ""
			}
			code, stdout, stderr := runIn(t, cfg, "", tc.args...)
			if code != 3 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("%v: exit %d, stderr %q; want 3 and one line with %q", tc.args, code, stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("%v: nothing should run, stdout %q", tc.args, stdout)
			}
		})
	}
	// a usable config dir that does not exist yet is made, not refused
	cfg := filepath.Join(t.TempDir(), "new", "scalelab")
	if code, _, stderr := runIn(t, cfg, ""); code != 2 || !strings.Contains(stderr, "terminal") {
		t.Errorf("a new config dir: exit %d, %q; want the next check (a terminal) to speak", code, stderr)
	}
	if _, err := os.Stat(cfg); err != nil {
		t.Errorf("config dir not made: %v", err)
	}
}

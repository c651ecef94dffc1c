package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// errEnv marks an environment scalelab cannot run in (no usable config or
// temporary directory): exit status 3, nothing started.
var errEnv = errors.New("unusable environment")

// envError is an unusable environment with the message to show, which
// names the variable to set.
type envError struct{ msg string }

func (e *envError) Error() string { return e.msg }
func (e *envError) Unwrap() error { return errEnv }

// configDir is where progress lives: SCALELAB_CONFIG_DIR, else the user's
// config directory.
func configDir(e env) (string, error) {
	if d := e.getenv("SCALELAB_CONFIG_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", &envError{fmt.Sprintf("no config directory for your progress: %v; set SCALELAB_CONFIG_DIR to a writable directory", err)}
	}
	return filepath.Join(d, "scalelab"), nil
}

// writableConfigDir is configDir, made if missing and checked writable:
// the lab saves progress there.
func writableConfigDir(e env) (string, error) {
	dir, err := configDir(e)
	if err != nil {
		return "", err
	}
	if err := probeDir(dir, true); err != nil {
		return "", &envError{fmt.Sprintf("config directory %s is not usable for your progress: %v; set SCALELAB_CONFIG_DIR to a writable directory", dir, err)}
	}
	return dir, nil
}

// checkTempDir checks that the temporary directory every lab keeps its
// files in (databases, static files) takes a new directory.
func checkTempDir() error {
	if err := probeDir(os.TempDir(), false); err != nil {
		return &envError{fmt.Sprintf("temporary directory %s is not writable: %v; set TMPDIR to a writable directory", os.TempDir(), err)}
	}
	return nil
}

// probeDir makes (when make is set) dir and checks that a directory can be
// created in it, as the lab does, and removes what it made inside.
func probeDir(dir string, make bool) error {
	if make {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return unwrapPath(err)
		}
	}
	d, err := os.MkdirTemp(dir, ".scalelab-check-*")
	if err != nil {
		return unwrapPath(err)
	}
	return os.Remove(d)
}

// unwrapPath drops a PathError's path, which the message names already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

package main

import (
	"flag"

	"scalelab/engine/kv"
)

// redisServerFlag adds --redis-server PATH to a command that runs labs.
func redisServerFlag(fs *flag.FlagSet) *string { return fs.String("redis-server", "", "") }

// useRedisServer makes every Redis node of the labs this command runs a
// real redis-server from --redis-server, else from SCALELAB_REDIS_SERVER,
// else miniredis. A path that is not an executable redis-server 7 or newer
// is bad input naming where it came from.
func useRedisServer(path string, e env) error {
	from := "--redis-server"
	if path == "" {
		path, from = e.getenv(kv.EnvServer), kv.EnvServer
	}
	if _, err := kv.UseServer(path); err != nil {
		return badInput("%s: %v", from, err)
	}
	return nil
}

package fidelity

import (
	"context"
	"testing"
)

func TestStartRedis(t *testing.T) {
	tools := requireTools(t)
	r, err := StartRedis(tools.RedisServer, "maxmemory 2mb")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	v, err := r.Client().ConfigGet(context.Background(), "maxmemory").Result()
	if err != nil || v["maxmemory"] != "2097152" {
		t.Fatalf("maxmemory %v %v", v, err)
	}
	t.Log(Version(tools.RedisServer, "--version"), Version(tools.HAProxy, "-v"))
}

package main

import (
	"strings"
	"testing"

	"github.com/hibiken/asynq"
)

func TestParseRedisURL(t *testing.T) {
	opt, err := parseRedisURL("redis://app:s3cret@redis.internal:6380/2")
	if o, ok := opt.(asynq.RedisClientOpt); err != nil || !ok || o.Addr != "redis.internal:6380" || o.Username != "app" || o.Password != "s3cret" || o.DB != 2 {
		t.Errorf("redis:// with an ACL user: %#v %v", opt, err)
	}
	opt, err = parseRedisURL("redis-cluster://app:s3cret@r1:7000,r2:7000,r3:7000?tls=true")
	if o, ok := opt.(asynq.RedisClusterClientOpt); err != nil || !ok || strings.Join(o.Addrs, " ") != "r1:7000 r2:7000 r3:7000" ||
		o.Username != "app" || o.Password != "s3cret" || o.TLSConfig == nil {
		t.Errorf("redis-cluster://: %#v %v", opt, err)
	}
	if _, err := parseRedisURL("redis-sentinel://:pw@s1:26379,s2:26379?master=mymaster"); err != nil {
		t.Errorf("redis-sentinel://: %v", err)
	}
	// Errors never repeat the URL: it may hold a password.
	opt, err = parseRedisURL("redis://app@redis.internal:6379/0")
	if o, ok := opt.(asynq.RedisClientOpt); err != nil || !ok || o.Username != "app" {
		t.Errorf("redis:// with a user and no password: %#v %v", opt, err)
	}
	for _, bad := range []string{"redis://app:s3cret@host:port/0", "redis-cluster://app:s3cret@r1,r2", "memcache://app:s3cret@host",
		"redis://app:s3#cret@host:6379/0"} {
		_, err := parseRedisURL(bad)
		if err == nil || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "cret") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

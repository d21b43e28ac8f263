package redisstore_test

import (
	"bufio"
	"fmt"
	"github.com/rtchain/chain/redisstore/internal/redistest"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/breaker"
)

// childEnv marks a re-executed test binary as a member of TestProcesses;
// the other two variables tell it where Redis and the host are.
const (
	childEnv     = "REDISSTORE_FLEET_CHILD"
	childRedis   = "REDISSTORE_FLEET_REDIS"
	childHostURL = "REDISSTORE_FLEET_HOST"
	childMark    = "fleet-child: "
)

func TestProcesses(t *testing.T) {
	// A fleet of two processes (this test binary, run again): the child
	// trips on a failing host; this process, which never called it,
	// rejects its calls without sending; then this process's probes close
	// the key for the child too.
	if os.Getenv(childEnv) != "" {
		runChild(t)
		return
	}
	r := redistest.Start(t)
	h := newHost(t, http.StatusInternalServerError)
	open := breaker.WithOpenDuration(time.Second)
	parent := newMember(t, r.Client(t), nil, open)

	cmd := exec.Command(os.Args[0], "-test.run=^TestProcesses$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", childRedis+"="+r.Addr(), childHostURL+"="+h.url)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), childMark); ok {
				lines <- s
			}
		}
	}()
	t.Cleanup(func() {
		for range lines {
		}
		cmd.Wait()
	})
	next := func() string {
		select {
		case s := <-lines:
			return s
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatal("the child said nothing for 30s")
			return ""
		}
	}

	require.Equal(t, "open", next())
	hits := h.hits.Load()
	took := waitFor(t, staleness, "this process sees the child's trip", func() bool {
		return parent.breaker().State(h.key()) == breaker.Open
	})
	t.Logf("this process saw the child's trip after %v", took)
	require.True(t, isOpen(parent.get(t, h)))
	assert.Equal(t, hits, h.hits.Load(), "this process sent nothing")

	h.status.Store(http.StatusOK)
	waitFor(t, 2*staleness, "half-open here", func() bool {
		return parent.breaker().State(h.key()) == breaker.HalfOpen
	})
	for range 2 {
		require.NoError(t, parent.get(t, h))
	}
	require.Equal(t, breaker.Closed, parent.breaker().State(h.key()))
	assert.Equal(t, "closed", next(), "the child closes after this process's probes")
	require.NoError(t, cmd.Wait())
}

// runChild is the child of TestProcesses.
func runChild(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: os.Getenv(childRedis)})
	defer c.Close()
	h := &host{url: os.Getenv(childHostURL)}
	m := newMember(t, c, nil, breaker.WithOpenDuration(time.Second))
	m.trip(t, h)
	fmt.Println(childMark + "open")
	deadline := time.Now().Add(20 * time.Second)
	for m.breaker().State(h.key()) != breaker.Closed {
		if time.Now().After(deadline) {
			t.Fatal("child: the key did not close")
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Println(childMark + "closed")
}

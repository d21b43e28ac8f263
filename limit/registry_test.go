package limit_test

import (
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/limit"
)

// The number of keys kept stays within WithMaxKeys however many hosts are
// called.
func TestMaxKeysBound(t *testing.T) {
	rt := limit.New(&fake{}, limit.WithMaxInFlight(1), limit.WithMaxKeys(10))
	for i := range 1000 {
		resp, err := get(t, rt, fmt.Sprintf("http://h%d.test/", i))
		require.NoError(t, err)
		drain(resp)
		require.LessOrEqual(t, len(rt.Keys()), 10, "after %d hosts", i+1)
	}
}

// Keys with requests in flight are never dropped; while every kept key is
// busy, a new key goes through without a limit, and gets one once a key is
// idle again (and the registry looks again, 10 ms after it last found no
// room).
func TestBusyKeysKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := limit.New(&fake{}, limit.WithMaxInFlight(1), limit.WithMaxKeys(2))
		a := mustHold(t, rt, "http://a.test/")
		b := mustHold(t, rt, "http://b.test/")
		var extra []*http.Response
		for range 3 {
			extra = append(extra, mustHold(t, rt, "http://c.test/")) // no limit for c.test: no room
		}
		assert.Equal(t, []string{"a.test", "b.test"}, rt.Keys())
		_, err := get(t, rt, "http://a.test/")
		assert.True(t, isLimited(err), "a.test lost its state: %v", err)

		drain(a)
		time.Sleep(10 * time.Millisecond)
		c := mustHold(t, rt, "http://c.test/")
		_, err = get(t, rt, "http://c.test/")
		assert.True(t, isLimited(err), "c.test got no limit once a.test was idle: %v", err)
		assert.Equal(t, []string{"b.test", "c.test"}, rt.Keys())
		for _, r := range append(extra, b, c) {
			drain(r)
		}
	})
}

// A key used since the last sweep is kept while others unused since go:
// a client that keeps calling one host while it meets many others once
// never loses that host's state.
func TestUsedKeysKept(t *testing.T) {
	rt := limit.New(&fake{}, limit.WithMaxInFlight(1), limit.WithMaxKeys(4))
	use := func(host string) {
		resp, err := get(t, rt, "http://"+host+"/")
		require.NoError(t, err)
		drain(resp)
	}
	for i := range 50 {
		use("hot.test")
		use(fmt.Sprintf("cold%d.test", i))
		if i >= 4 { // from the second sweep on, every sweep has unused keys to drop
			require.Contains(t, rt.Keys(), "hot.test", "round %d", i)
		}
		require.LessOrEqual(t, len(rt.Keys()), 4)
	}
}

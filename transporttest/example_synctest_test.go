package transporttest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtchain/chain/transporttest"
)

// headerTimeoutInBubble runs a fixture inside a testing/synctest bubble, as a
// user's test does: the server listens on a MemListener made in the bubble,
// so the server's one-minute delay and the client's ten-second header
// timeout pass on the bubble's fake clock, in no real time, and the elapsed
// time is exact. Call it from a test:
//
//	func TestHeaderTimeout(t *testing.T) { headerTimeoutInBubble(t) }
//
// (TestSynctestBubble in this package does.)
func headerTimeoutInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := transporttest.NewUnstartedServer(transporttest.Reply{Delay: time.Minute})
		srv.Listener = transporttest.NewMemListener()
		srv.Start()
		defer srv.Close()

		client := srv.Client()
		client.Transport.(*http.Transport).ResponseHeaderTimeout = 10 * time.Second
		start := time.Now()
		resp, err := client.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
			t.Fatal("got a response, want a header timeout")
		}
		if !strings.Contains(err.Error(), "timeout awaiting response headers") {
			t.Errorf("got %v, want a header timeout", err)
		}
		if got := time.Since(start); got != 10*time.Second {
			t.Errorf("the timeout fired after %v on the fake clock, want exactly 10s", got)
		}
	})
}

// ExampleMemListener shows a fixture on a MemListener. Outside a bubble, as
// here, its waits take real time (five bytes, one per millisecond); inside
// one (see headerTimeoutInBubble above) they take none.
func ExampleMemListener() {
	srv := transporttest.NewUnstartedServer(transporttest.Reply{BodySize: 5, Trickle: time.Millisecond})
	srv.Listener = transporttest.NewMemListener()
	srv.Start()
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body), srv.Stats().Connections)
	// Output: abcde 1
}

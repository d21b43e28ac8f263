package layer_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/rtchain/chain/internal/layer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type counting struct{ closes int }

func (c *counting) RoundTrip(*http.Request) (*http.Response, error) { return nil, nil }
func (c *counting) CloseIdleConnections()                           { c.closes++ }

type bare struct{}

func (bare) RoundTrip(*http.Request) (*http.Response, error) { return nil, nil }

func TestNextForwardsAndUnwraps(t *testing.T) {
	c := &counting{}
	n := layer.Of(c)
	n.CloseIdleConnections()
	n.CloseIdleConnections()
	assert.Equal(t, 2, c.closes)
	assert.Same(t, c, n.Unwrap())
	assert.Same(t, c, n.RT())
}

func TestNextWithoutCloseIdle(t *testing.T) {
	n := layer.Of(bare{})
	n.CloseIdleConnections() // must not panic
	assert.Equal(t, bare{}, n.Unwrap())
}

func TestNilMeansDefaultTransport(t *testing.T) {
	assert.Same(t, http.DefaultTransport, layer.Of(nil).Unwrap())
}

type wrap struct{ next http.RoundTripper }

func (w wrap) RoundTrip(r *http.Request) (*http.Response, error) { return w.next.RoundTrip(r) }
func (w wrap) Unwrap() http.RoundTripper                         { return w.next }

// cycle unwraps to itself: a broken layer.
type cycle struct{}

func (cycle) RoundTrip(*http.Request) (*http.Response, error) { return nil, nil }
func (c cycle) Unwrap() http.RoundTripper                     { return c }

func TestBase(t *testing.T) {
	c := &counting{}
	assert.Same(t, c, layer.Base(wrap{wrap{c}}))
	assert.Same(t, c, layer.Base(c))
	assert.Equal(t, wrap{nil}, layer.Base(wrap{nil}), "an Unwrap that returns nil is the bottom")
	assert.Nil(t, layer.Base(nil))
	assert.Equal(t, cycle{}, layer.Base(cycle{}), "a cyclic chain ends")
}

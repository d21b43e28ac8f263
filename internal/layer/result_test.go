package layer_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rtchain/chain/internal/layer"
)

type closeCount struct {
	io.Reader
	n int
}

func (c *closeCount) Close() error { c.n++; return nil }

func TestCheckedPassesGoodResults(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "http://x.example/", nil)
	resp := &http.Response{StatusCode: 200, Body: http.NoBody}
	got, err := layer.Checked("pkg", bare{}, req, resp, nil)
	require.NoError(t, err)
	assert.Same(t, resp, got)

	boom := errors.New("boom")
	got, err = layer.Checked("pkg", bare{}, req, nil, boom)
	assert.Nil(t, got)
	assert.Same(t, boom, err, "the error is returned as it is")
}

func TestCheckedNilNil(t *testing.T) {
	body := &closeCount{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest(http.MethodPost, "http://x.example/", body)
	got, err := layer.Checked("retry", bare{}, req, nil, nil)
	assert.Nil(t, got)
	require.EqualError(t, err, "retry: RoundTripper implementation (layer_test.bare) returned a nil *Response with a nil error")
	assert.Equal(t, 1, body.n, "the request body is closed")
}

func TestCheckedBoth(t *testing.T) {
	body := &closeCount{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest(http.MethodGet, "http://x.example/", nil)
	boom := errors.New("boom")
	got, err := layer.Checked("pkg", bare{}, req, &http.Response{Body: body}, boom)
	assert.Nil(t, got, "a response that came with an error is dropped")
	assert.Same(t, boom, err)
	assert.Equal(t, 1, body.n, "and its body closed")
}

func TestCheckedAllocatesNothingOnGoodResults(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "http://x.example/", nil)
	resp := &http.Response{StatusCode: 200, Body: http.NoBody}
	var rt http.RoundTripper = bare{}
	n := testing.AllocsPerRun(100, func() { _, _ = layer.Checked("pkg", rt, req, resp, nil) })
	assert.Zero(t, n)
}

// Package layer holds the part every decorator of this module shares: the next
// RoundTripper, its Unwrap method and the forwarding of CloseIdleConnections
// ([Next]), the walk to the bottom of a stack ([Base]), and the check of the
// RoundTripper result contract on what the next layer returned ([Checked]).
package layer

import "net/http"

// Next is embedded (by value) in each concern's Transport. It gives the
// Transport the Unwrap and CloseIdleConnections methods of the decorator
// contract. The zero value wraps nothing; use [Of].
type Next struct {
	rt http.RoundTripper
}

// Of returns a Next for rt; a nil rt means [http.DefaultTransport].
func Of(rt http.RoundTripper) Next {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return Next{rt: rt}
}

// RT returns the next RoundTripper.
func (n Next) RT() http.RoundTripper { return n.rt }

// Unwrap returns the next RoundTripper, so that chain.Base can walk a stack.
func (n Next) Unwrap() http.RoundTripper { return n.rt }

// CloseIdleConnections forwards to the next layer when it has the method, as
// [http.Client.CloseIdleConnections] expects of every transport.
func (n Next) CloseIdleConnections() {
	if c, ok := n.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Base walks the Unwrap chain of rt to the bottom and returns the innermost
// RoundTripper. A layer that has no Unwrap() http.RoundTripper method, or
// whose Unwrap returns nil, is the bottom. Base(nil) is nil. The walk stops
// after maxDepth layers, so a (broken) cyclic chain cannot hang it; the layer
// reached then is returned.
func Base(rt http.RoundTripper) http.RoundTripper {
	for range maxDepth {
		u, ok := rt.(interface{ Unwrap() http.RoundTripper })
		if !ok {
			return rt
		}
		next := u.Unwrap()
		if next == nil {
			return rt
		}
		rt = next
	}
	return rt
}

// maxDepth bounds Base on a cyclic chain; real stacks are a dozen layers.
const maxDepth = 1 << 10

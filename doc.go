// Package chain composes http.RoundTripper middleware into a client transport
// that survives the real network.
//
// (Package overview in progress.)
package chain

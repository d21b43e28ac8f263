package rtprobe

import (
	"context"
	"fmt"

	"github.com/rtchain/chain/tlsrotate"
)

// rotationLog is a rotation of the client certificate, as -watch reports it
// (serials and generation; never key material).
type rotationLog struct {
	Generation   uint64 `json:"generation"`
	OldSerial    string `json:"old_serial"`
	NewSerial    string `json:"new_serial"`
	CertChanged  bool   `json:"cert_changed"`
	RootsChanged bool   `json:"roots_changed"`
}

// watch probes target once, then again after each rotation of c's
// certificate source, until ctx ends. Every probe goes through the same
// client, so the output shows tlsrotate moving new requests to connections
// that present the new certificate. It returns the exit code of the last
// probe.
func watch(ctx context.Context, pf probeFlags, target string, c *probeClient, con console) int {
	code := emit(con.out, pf, probe(ctx, pf, target, c, nil))
	if !pf.json {
		fmt.Fprintln(con.err, "watching the certificate files; interrupt to stop")
	}
	for {
		select {
		case <-ctx.Done():
			return code
		case r := <-c.rotations:
			if !pf.json {
				fmt.Fprintln(con.out)
			}
			code = emit(con.out, pf, probe(ctx, pf, target, c, fromRotation(r)))
		}
	}
}

func fromRotation(r tlsrotate.Rotation) *rotationLog {
	return &rotationLog{
		Generation:   r.Generation,
		OldSerial:    r.OldSerial,
		NewSerial:    r.NewSerial,
		CertChanged:  r.CertChanged,
		RootsChanged: r.RootsChanged,
	}
}

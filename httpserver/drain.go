package httpserver

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// connCounter counts the server's open HTTP/1 connections through http.Server.ConnState, so shutdown can wait for
// requests that are still arriving, which srv.Shutdown would drop.
//
// An HTTP/2 connection stops being counted once it is known to be one: keep-alives off does not end it (it would
// hold the drain until the timeout), and srv.Shutdown ends it gracefully on its own, with a GOAWAY that lets the
// streams in flight finish.
type connCounter struct {
	open atomic.Int64
	h2   sync.Map // net.Conn -> struct{}: connections no longer counted
}

func (c *connCounter) track(conn net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		c.open.Add(1)
	case http.StateActive:
		// ALPN is settled by the time a connection turns active, so the protocol is known here.
		if tc, ok := conn.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol == "h2" {
			if _, seen := c.h2.LoadOrStore(conn, struct{}{}); !seen {
				c.open.Add(-1)
			}
		}
	case http.StateHijacked, http.StateClosed:
		if _, wasH2 := c.h2.LoadAndDelete(conn); !wasH2 {
			c.open.Add(-1)
		}
	}
}

// drain waits until every connection has closed. With keep-alives off each one closes after its current request;
// a connection that never sends a request is closed by the server's ReadHeaderTimeout. closeIdle runs on every
// tick because a connection can turn idle just after keep-alives were switched off and would then linger.
func (c *connCounter) drain(ctx context.Context, closeIdle func()) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for c.open.Load() > 0 {
		closeIdle()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

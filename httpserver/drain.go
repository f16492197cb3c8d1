package httpserver

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// connCounter counts the server's open connections through http.Server.ConnState, so shutdown can wait for
// requests that are still arriving, which srv.Shutdown would drop.
type connCounter struct{ open atomic.Int64 }

func (c *connCounter) track(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		c.open.Add(1)
	case http.StateHijacked, http.StateClosed:
		c.open.Add(-1)
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

package throttle_test

import (
	"testing"
	"time"

	"github.com/tokenbearer/authserver/internal/throttle"
	"github.com/tokenbearer/authserver/internal/throttle/throttletest"
)

// TestFailures runs the Budgets suite against the in-memory budgets; the
// Redis ones run the same suite (redisbudget).
func TestFailures(t *testing.T) {
	throttletest.Run(t, func(l throttle.Limit, now func() time.Time) throttle.Budgets {
		return throttle.New(l, 100, now)
	})
}

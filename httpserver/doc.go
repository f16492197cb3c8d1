// Package httpserver is how the project's services run HTTP: a server with the limits every connection lives
// under, serving until a context ends and then shutting down without dropping a request that is still arriving,
// the request-log and panic-recovery Gin middleware, and the readiness probe behind each binary's `healthcheck`
// subcommand (scratch images have no curl).
package httpserver

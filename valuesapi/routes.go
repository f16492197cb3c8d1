package main

import (
	"github.com/gin-gonic/gin"
	"github.com/tokenbearer/valuesapi/bearer"
)

// addRoutes lists every route the service answers.
func addRoutes(r *gin.Engine, v *bearer.Validator, scope string) {
	r.GET("/healthz", handleHealthz())
	r.GET("/readyz", handleReadyz(v))
	r.GET("/api/values", v.Require(scope), handleValues())
	r.NoRoute(handleNotFound())
	r.NoMethod(handleMethodNotAllowed())
}

package api

import (
	"net/http"

	"github.com/bemi-go/bemi/core"
	bemigin "github.com/bemi-go/bemi/middleware/gin"
	"github.com/gin-gonic/gin"
)

// newGin returns the API on a gin engine. gin writes its route patterns
// with colons, so the endpoint field reads "/todo/:id" where chi's reads
// "/todo/{id}".
func newGin(h *handlers) http.Handler {
	r := gin.New()
	r.Use(gin.Recovery())
	r.Use(bemigin.Middleware(bemigin.Config{
		Fields: func(c *gin.Context) core.Fields {
			var params any = bemigin.URLParams(c)
			if body, err := bemigin.JSONBody(c, 0); err == nil && body != nil {
				params = body
			}

			return contextFields(c.Request.Header, params)
		},
	}))

	// Handlers pass c.Request.Context(), which carries the Bemi fields;
	// gin's own *gin.Context does not by default.
	r.POST("/todo", func(c *gin.Context) {
		writeGin(c, h.create(c.Request.Context(), c.Request.Body))
	})
	r.GET("/todo", func(c *gin.Context) {
		writeGin(c, h.list(c.Request.Context()))
	})
	r.PUT("/todo/:id/complete", func(c *gin.Context) {
		writeGin(c, h.complete(c.Request.Context(), c.Param("id")))
	})
	r.DELETE("/todo/:id", func(c *gin.Context) {
		writeGin(c, h.remove(c.Request.Context(), c.Param("id")))
	})

	return r
}

func writeGin(c *gin.Context, resp response) {
	if resp.body == nil {
		c.Status(resp.status)

		return
	}

	c.JSON(resp.status, resp.body)
}

package bemigin

import "github.com/gin-gonic/gin"

// URLParams returns the URL parameters of the route that gin matched, such
// as {"id": "27"} for /todo/:id, for the params field. A catch-all parameter
// (*filepath) keeps gin's leading slash. It returns an empty map when the
// route has no parameters.
func URLParams(c *gin.Context) map[string]string {
	params := make(map[string]string, len(c.Params))
	for _, p := range c.Params {
		params[p.Key] = p.Value
	}

	return params
}

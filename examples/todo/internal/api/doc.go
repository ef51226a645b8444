// Package api is the todo service's HTTP API on chi or gin, with the Bemi
// middleware of each router.
//
//	handler, err := api.New(api.Chi, s, logger)
//
// Both routers serve the same routes and responses. The middleware stores
// the user id (from the X-User-ID header), the HTTP method, the route
// pattern and the request parameters (the JSON body, else the URL
// parameters) in each request's context.Context, and the store sends them
// with every write. The route pattern is written in the router's syntax:
// "/todo/{id}" on chi, "/todo/:id" on gin.
//
// Error responses are JSON objects with an error field. An unexpected error
// is logged, and the response has status 500 and leaves out its details.
package api

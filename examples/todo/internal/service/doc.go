// Package service runs the todo service: it creates the todo table, runs
// Bemi setup, starts the capture worker in a goroutine and serves the API.
//
//	svc, err := service.Start(ctx, service.Config{DatabaseURL: url}, logger)
//	if err != nil {
//		return err
//	}
//	defer svc.Close(context.Background())
//	fmt.Println("listening on", svc.URL)
//
// Setup runs after the table exists, so it tracks the table even where the
// role may not create Bemi's event trigger. Close stops the HTTP server
// first and the worker after it, so the worker stores every change that a
// finished request made. Config.NoWorker and Config.NoSetup leave those
// steps to the bemi command.
package service

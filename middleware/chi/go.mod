module github.com/bemi-go/bemi/middleware/chi

go 1.26.0

require github.com/bemi-go/bemi/core v0.0.0

require github.com/go-chi/chi/v5 v5.5.0

replace github.com/bemi-go/bemi/core => ../../core

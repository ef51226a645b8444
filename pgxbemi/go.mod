module github.com/bemi-go/bemi/pgxbemi

go 1.26.0

require github.com/bemi-go/bemi/core v0.0.0

replace github.com/bemi-go/bemi/core => ../core

module github.com/bemi-go/bemi/core

go 1.26.0

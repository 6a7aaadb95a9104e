module github.com/oss-append/oss-append/examples-c/go

go 1.19

module github.com/hop-http/hop

go 1.26.0

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0
	github.com/klauspost/compress v1.20.3
	golang.org/x/net v0.62.0
)

require github.com/maypok86/otter/v2 v2.4.0 // indirect

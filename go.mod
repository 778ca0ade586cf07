module github.com/latchsec/latch

go 1.25.0

require (
	github.com/secure-systems-lab/go-securesystemslib v0.11.0 // indirect
	github.com/theupdateframework/go-tuf/v2 v2.4.2 // indirect
	golang.org/x/crypto v0.54.0 // indirect
	golang.org/x/mod v0.40.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)

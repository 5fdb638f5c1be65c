module mote-test/goroutines

go 1.19

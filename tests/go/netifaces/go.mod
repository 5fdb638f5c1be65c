module mote-test/netifaces

go 1.19

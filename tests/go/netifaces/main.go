// The interfaces and addresses Go's net package sees: net.Interfaces and
// Addrs go through route netlink (syscall.NetlinkRIB: RTM_GETLINK and
// RTM_GETADDR dumps read with page-sized recvfroms, each answer's sequence
// number and port id checked). Run natively in a network namespace made to
// look like mote's network and under mote by tests/integration/netlink.py.
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	failures := 0
	ifs, err := net.Interfaces()
	if err != nil {
		fmt.Println("net.Interfaces:", err)
		os.Exit(1)
	}
	for _, i := range ifs {
		addrs, err := i.Addrs()
		if err != nil {
			fmt.Println(i.Name, "addrs:", err)
			failures++
		}
		byName, err := net.InterfaceByName(i.Name)
		if err != nil || byName.Index != i.Index {
			fmt.Println(i.Name, "InterfaceByName disagrees:", err)
			failures++
		}
		// The index and MAC differ between hosts: their presence is shown.
		fmt.Printf("%s mtu %d flags %v mac bytes %d addrs %v\n", i.Name, i.MTU, i.Flags,
			len(i.HardwareAddr), addrs)
	}
	all, err := net.InterfaceAddrs()
	fmt.Println("all addresses:", all, err)
	if _, err := net.InterfaceByName("nosuch0"); err == nil {
		fmt.Println("InterfaceByName(nosuch0) found something")
		failures++
	}
	fmt.Printf("%d failures\n", failures)
}

package main

import "syscall"

// childAttr makes a helper process die with this one, and starts it in a
// session of its own, as scripts/bench.sh starts the server under test.
// Linux schedules each session as one group (autogroup): a do-nothing
// server sharing the load generator's session gets a larger share of the
// CPU than a server in its own, which made the noop ceiling 10-20% higher
// than the conditions the server under test runs in.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setsid: true}
}

// Package binding holds the protocol state of Mobile IPv6 home registration
// with multiple care-of addresses: the home agent's BindingCache (RFC 6275
// section 9.1, keyed by RFC 5648 Binding ID) with its Binding Update
// processing (RFC 6275 sections 9.5 and 10.3; RFC 5648 home agent operation
// with the statuses of its section 6.2), and the mobile node's
// BindingUpdateList (RFC 6275 sections 11.7 and 11.8; RFC 5648 mobile node
// operation, bulk registration of section 5.3).
//
// Everything here is pure: no I/O, no goroutines, no timers. Every method
// that depends on time takes `now time.Time`; callers (the ha and mn roles)
// own the clock, the sockets and the data plane. Results are values that
// describe what to do (send this Binding Acknowledgement, install this
// tunnel, send this Binding Update) without doing it.
//
// Home agent event loop:
//
//	c := binding.NewBindingCache(cfg, time.Now())
//	for {
//		select {
//		case bu := <-signalling:              // decoded + authenticated
//			d := c.ProcessBindingUpdate(time.Now(), req(bu))
//			apply(d.Changes); if d.SendAck { send(ba(d)) }
//		case <-timer(c.NextExpiry()):
//			apply(c.Expire(time.Now()))
//		}
//	}
//
// Mobile node event loop:
//
//	l := binding.NewBindingUpdateList(cfg)
//	on link up:   l.SetCareOfAddress(now, b)
//	on link down: l.RemoveCareOfAddress(now, ha, hoa, bid)
//	on BA:        do(l.HandleBA(now, ba))
//	on timer:     do(l.Next(now)); rearm at l.Deadline()
package binding

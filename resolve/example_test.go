package resolve_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/hop-http/hop/resolve"
)

// Looking up an IP literal returns it without any query.
func ExampleResolver_Lookup() {
	res, err := resolve.Default.Lookup(context.Background(), "2001:db8::1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Addrs, res.Source)

	// Names under "localhost" always resolve to loopback.
	res, err = resolve.Default.Lookup(context.Background(), "app.localhost")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Addrs, res.Source)
	// Output:
	// [2001:db8::1] literal
	// [::1 127.0.0.1] hosts
}

// Interleave orders a lookup's addresses for Happy Eyeballs.
func ExampleInterleave() {
	addrs := []netip.Addr{
		netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("2001:db8::2"),
		netip.MustParseAddr("192.0.2.1"),
		netip.MustParseAddr("192.0.2.2"),
		netip.MustParseAddr("192.0.2.3"),
	}
	fmt.Println(resolve.Interleave(addrs))
	// Output: [2001:db8::1 192.0.2.1 2001:db8::2 192.0.2.2 192.0.2.3]
}

package neterr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
)

func TestIsTimeout(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("refused"), false},
		{os.ErrDeadlineExceeded, true},
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
		{fmt.Errorf("read: %w", os.ErrDeadlineExceeded), true},
		{&net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, true},
		{&net.DNSError{Err: "timeout", IsTimeout: true}, true},
		{&net.DNSError{Err: "no such host", IsNotFound: true}, false},
	} {
		if got := IsTimeout(tc.err); got != tc.want {
			t.Errorf("IsTimeout(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

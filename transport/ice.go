package transport

import (
	"crypto/rand"
	"strings"

	"github.com/pion/stun/v4"
)

const iceChars = "abcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = iceChars[int(b[i])%len(iceChars)]
	}
	return string(b)
}

// newICEParameters returns fresh ICE-lite credentials: a 16-character
// username fragment and a 32-character password, as mediasoup.
func newICEParameters() ICEParameters {
	return ICEParameters{UsernameFragment: randomString(16), Password: randomString(32), ICELite: true}
}

// handleSTUN answers an ICE Binding request addressed to one of our
// transports. Like mediasoup's IceServer, it requires FINGERPRINT, USERNAME
// and MESSAGE-INTEGRITY, ignores role conflicts, and makes the request's
// source a valid tuple; the first valid tuple (or one nominated with
// USE-CANDIDATE) becomes the selected one.
//
// Only a Binding request with a valid FINGERPRINT whose USERNAME names one
// of our transports is ever answered: with a success signed with the
// transport's password when its MESSAGE-INTEGRITY is valid, else with an
// unsigned error (400 without MESSAGE-INTEGRITY, 401 with a wrong one; RFC
// 5389 section 10.1.2: an error to a request that failed authentication
// carries no MESSAGE-INTEGRITY). Everything else is dropped silently: a
// message without a valid FINGERPRINT (RFC 5389 section 7.3; ICE always
// sends it), a request without USERNAME or for an unknown username
// fragment (no one to speak for; answering strangers would make the port a
// reflector), indications and responses. Attributes after
// MESSAGE-INTEGRITY other than FINGERPRINT are ignored (RFC 5389 section
// 15.4; pion's decoder already leaves them out). A source over its
// SourceLimits.STUNRate is not answered either, unless the request comes
// from a tuple already valid for that transport.
func (n *Network) handleSTUN(pkt []byte, tp Tuple) {
	addr := tp.Remote
	if !stun.IsMessage(pkt) {
		return
	}
	m := &stun.Message{Raw: append([]byte(nil), pkt...)}
	if err := m.Decode(); err != nil {
		return
	}
	if m.Type != stun.BindingRequest {
		return // indications and responses are ignored
	}
	if err := stun.Fingerprint.Check(m); err != nil {
		return
	}
	var user stun.Username
	if err := user.GetFrom(m); err != nil {
		return
	}
	local, _, ok := strings.Cut(user.String(), ":")
	if !ok {
		return
	}
	t := n.transportByUfrag(local)
	if t == nil {
		return
	}
	if !n.stunAllowed(t, tp) {
		return // over the source's rate before ICE (SourceLimits.STUNRate)
	}
	pwd := t.icePassword()
	if _, ok := m.Attributes.Get(stun.AttrMessageIntegrity); !ok {
		n.stunError(m, tp, stun.CodeBadRequest)
		return
	}
	if err := stun.NewShortTermIntegrity(pwd).Check(m); err != nil {
		n.stunError(m, tp, stun.CodeUnauthorized)
		return
	}
	resp, err := stun.Build(
		stun.NewTransactionIDSetter(m.TransactionID),
		stun.BindingSuccess,
		&stun.XORMappedAddress{IP: addr.Addr().AsSlice(), Port: int(addr.Port())},
		stun.NewShortTermIntegrity(pwd),
		stun.Fingerprint,
	)
	if err != nil {
		return
	}
	// The tuple is recorded before the answer leaves, so that whatever the
	// client sends once answered finds it; DTLS starts after the answer.
	_, useCandidate := m.Attributes.Get(stun.AttrUseCandidate)
	valid := t.onValidTuple(tp, useCandidate)
	_ = n.write(tp, resp.Raw)
	if valid {
		t.maybeStartDTLS()
	}
}

// stunError answers a Binding request that failed authentication with an
// error response: no MESSAGE-INTEGRITY (the request proved no key), only
// the error code and FINGERPRINT.
func (n *Network) stunError(m *stun.Message, tp Tuple, code stun.ErrorCode) {
	resp, err := stun.Build(
		stun.NewTransactionIDSetter(m.TransactionID),
		stun.NewType(stun.MethodBinding, stun.ClassErrorResponse),
		code,
		stun.Fingerprint,
	)
	if err == nil {
		_ = n.write(tp, resp.Raw)
	}
}

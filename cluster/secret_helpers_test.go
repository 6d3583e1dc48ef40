package cluster

import "context"

// testSecret is the cluster secret of the test nodes (testConfig).
const testSecret = "test-cluster-secret-0123456789abcdef"

// home returns the node id holding room's home claim, as verified by m
// ("" when none or refused).
func (m *Member) home(ctx context.Context, room string) string {
	v, err := m.rdb.Get(ctx, m.k.home(room)).Result()
	if err != nil {
		return ""
	}
	b, ok := m.g.check(kindHome, m.k.home(room), v)
	if !ok {
		return ""
	}
	return string(b)
}

// Package cluster spreads gosoup rooms over several nodes that share a
// Redis server: a peer may connect to any node, and every node that has
// local peers in a room takes part in it. Clients cannot tell: peers of
// other nodes appear in their join response and in newPeer and peerClosed,
// those peers' producers give newConsumer, pause and resume propagate.
//
// Each node runs one Member. It keeps in Redis (keys under Config.Prefix,
// "gosoup:" by default):
//
//	nodes                   set of node ids
//	node:ID                 the node's NodeInfo (JSON), expiring after Config.TTL, refreshed every Config.Interval
//	rooms                   set of room ids: the directory (each node adds its rooms; emptied ones are dropped)
//	room:R:home             the room's home node, claimed with SET NX PX, refreshed by its holder
//	room:R:nodes            set of the nodes taking part in R
//	room:R:state:ID         hash {v: version, s: JSON roomState}: that node's local peers and producers in R, expiring like node:ID
//
// and talks over Redis pub/sub on the channels "room:R" (one per room: the
// changes of each node's local peers, in order, numbered) and "to:ID"
// (requests to one node: start or stop a pipe, and their answers).
//
// A node that takes part in R mirrors every other node's state of R into
// its own sfu.Room: a remote peer (sfu.Room.JoinRemotePeer) per peer there
// and, per producer, a pipe producer (sfu.Peer.CreatePipeProducer) that the
// origin node feeds over a direct SRTP pipe (sfu.Producer.PipeTo): one
// pipe per producer and receiving node, whatever the number of consumers.
// Media never passes through Redis and never waits on it.
//
// Every value written (the node entry, both fields of a state hash, the
// home claim) and every message is sealed with the cluster secret
// (Config.Secret, the same on every node): "g1.KID.MAC.PAYLOAD", MAC an
// HMAC-SHA256 (key derived with HKDF) over the key or channel name and
// the payload, KID a fingerprint of the secret. What fails verification
// is refused, counted (Stats.Refused) and logged, never applied; a
// refused entry of a known node leaves what was mirrored of it as it was
// (a garbled entry neither adds nor drops peers). A pipe request carries
// a public nonce, never keys: both ends derive the pipe's SRTP keys from
// the secret and the nonce. A node with another secret thus shares
// nothing with the cluster.
//
// Changes travel as numbered deltas; a receiver that sees a gap, another
// epoch (the origin restarted or reopened the room) or, in its poll every
// interval, a newer version in Redis reads the origin's state hash and
// applies the difference. So lost messages, a Redis restart and a
// node that re-registers all converge within about an interval. A node
// whose node:ID key expired (killed, cut off) is dropped by the others:
// its remote peers' producers are closed (consumerClosed) and then the
// peers (peerClosed), within TTL + Interval of its last refresh.
package cluster

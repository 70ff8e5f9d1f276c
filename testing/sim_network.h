// A deterministic simulated network for tests of sans-IO cores (ICE agents, TURN/STUN servers, whole peers):
// a fake clock, a seeded Rng, hosts with IP addresses on a public "internet" and behind NAT boxes (nestable),
// links with latency, jitter, loss, reordering and duplication per direction (changeable mid-test, e.g. cut),
// NATs with RFC 4787 mapping and filtering behaviours (full cone, restricted cone, port restricted,
// symmetric), mapping timeouts and optional hairpinning, UDP sockets and reliable TCP-like streams.
//
// Nothing here touches a real socket or clock. Everything happens in Network::RunUntil/RunFor: the network
// delivers what is due, then the attached Processes (sans-IO cores) whose deadline has come get
// OnTimeout(now); time jumps to the next deadline among the network and all processes. Handlers run inside
// those calls and may send (the sends are scheduled, never delivered re-entrantly).
//
// Addressing model: realm 0 is the internet; every NAT owns an inner realm (its LAN). A packet sent in a
// realm goes to the node with the destination IP in that realm; failing that, up through the realm's NAT
// (translated) into the outer realm; failing that (on the internet) it is dropped as unroutable. Private
// addresses therefore only reach hosts on the same LAN, and two LANs may reuse the same private addresses, as
// in real life.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/rng.h"
#include "core/socket_address.h"
#include "core/time.h"

namespace tandem::sim {

// One direction of a link between a node and its realm.
struct LinkConditions {
  TimeDelta latency = TimeDelta::Millis(5);
  TimeDelta jitter = TimeDelta::Zero();  // uniform extra delay in [0, jitter] per datagram
  double loss = 0;                       // probability a datagram is dropped
  double duplicate = 0;                  // probability a datagram is delivered twice (independent delays)
  double reorder = 0;  // probability a datagram is held back by reorder_delay (others overtake it)
  TimeDelta reorder_delay = TimeDelta::Millis(30);
  bool down = false;  // cut: everything is dropped
};

// RFC 4787 §4.1 mapping and §5 filtering behaviours.
enum class NatBehavior : uint8_t { kEndpointIndependent, kAddressDependent, kAddressAndPortDependent };
// The classic names (RFC 3489 §5) as presets of the two behaviours.
enum class NatType : uint8_t {
  kFullCone,        // EIM + EIF
  kRestrictedCone,  // EIM + ADF
  kPortRestricted,  // EIM + APDF
  kSymmetric,       // APDM + APDF
};
struct NatConfig {
  NatBehavior mapping = NatBehavior::kEndpointIndependent;
  NatBehavior filtering = NatBehavior::kAddressAndPortDependent;
  TimeDelta mapping_lifetime = TimeDelta::Seconds(120);  // RFC 4787 REQ-5: at least 2 min
  bool inbound_refreshes = false;  // RFC 4787 REQ-6: outbound traffic always refreshes; inbound only if set
  bool hairpinning = false;        // RFC 4787 REQ-9
  bool port_preservation = false;  // try the internal port first
  static NatConfig Of(NatType type);
};

const char* ToString(NatType type);

using NodeId = uint32_t;
using SocketId = uint32_t;
using StreamId = uint32_t;
inline constexpr uint32_t kNoNode = 0xffffffffu;

// A sans-IO core driven by the network's clock.
class Process {
 public:
  virtual ~Process() = default;
  virtual Timestamp NextTimeout() const = 0;
  virtual void OnTimeout(Timestamp now) = 0;
};

using DatagramHandler = std::function<void(Timestamp now, const SocketAddress& from, ByteSpan data)>;

struct StreamHandlers {
  std::function<void(Timestamp now, const SocketAddress& local)> on_connected;  // client side only
  std::function<void(Timestamp now, ByteSpan data)> on_data;
  std::function<void(Timestamp now)> on_closed;  // connect failed, reset, or closed by the other side
};
// Called for an accepted stream; returns the handlers for it.
using AcceptHandler = std::function<StreamHandlers(Timestamp now, StreamId id, const SocketAddress& remote)>;

struct NetworkStats {
  uint64_t sent = 0;
  uint64_t delivered = 0;
  uint64_t dropped_loss = 0;        // link loss or link down
  uint64_t dropped_no_route = 0;    // no node with that address
  uint64_t dropped_no_socket = 0;   // host without a socket on that port
  uint64_t dropped_nat_filter = 0;  // no mapping, expired mapping, or filtered by the NAT
  uint64_t duplicated = 0;
  uint64_t nat_mappings_created = 0;
  uint64_t stream_bytes = 0;
};

class Network {
 public:
  explicit Network(uint64_t seed, Timestamp start = Timestamp::Seconds(1000));
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  Timestamp now() const { return now_; }
  Rng& rng() { return rng_; }

  // --- Topology ---
  // A NAT box whose outside address `public_ip` lives on the internet, or inside `outer_nat`'s LAN (a NAT
  // behind a NAT, e.g. carrier-grade NAT).
  NodeId AddNat(const IpAddress& public_ip, NatConfig config, NodeId outer_nat = kNoNode);
  NodeId AddNat(const IpAddress& public_ip, NatType type, NodeId outer_nat = kNoNode) {
    return AddNat(public_ip, NatConfig::Of(type), outer_nat);
  }
  // A host interface with address `ip`, on the internet or on `nat`'s LAN. A multi-homed machine is several
  // of these.
  NodeId AddHost(const IpAddress& ip, NodeId nat = kNoNode);
  // Link conditions of a node's link to its realm: `up` for what the node sends, `down` for what it receives.
  void SetLink(NodeId node, LinkConditions up, LinkConditions down);
  void SetLink(NodeId node, LinkConditions both) { SetLink(node, both, both); }
  LinkConditions& uplink(NodeId node);
  LinkConditions& downlink(NodeId node);
  // Cuts (or restores) both directions of a node's link.
  void SetLinkDown(NodeId node, bool down);
  const IpAddress& AddressOf(NodeId node) const;
  size_t NatMappingCount(NodeId nat) const;

  // --- UDP ---
  // Binds `port` (0: an ephemeral one) on a host. Throws std::invalid_argument when taken or not a host.
  SocketId BindUdp(NodeId host, uint16_t port, DatagramHandler handler);
  void CloseUdp(SocketId socket);
  SocketAddress LocalAddress(SocketId socket) const;
  NodeId HostOf(SocketId socket) const;
  // Sends now (delivery is scheduled). Sending on a closed socket is ignored.
  void SendUdp(SocketId socket, const SocketAddress& to, ByteSpan data);

  // --- Streams (reliable and ordered: loss shows up as delay only; a cut link resets the stream) ---
  void ListenStream(NodeId host, uint16_t port, AcceptHandler accept);
  // Connects from `host` (through its NATs) to `to`; on_connected or on_closed follows.
  StreamId ConnectStream(NodeId host, const SocketAddress& to, StreamHandlers handlers);
  void StreamSend(StreamId stream, ByteSpan data);
  void StreamClose(StreamId stream);

  // --- Time ---
  // Runs `fn` at `at` (or now if earlier), in order with deliveries.
  void Schedule(Timestamp at, std::function<void()> fn);
  void AddProcess(Process* process);
  void RemoveProcess(Process* process);
  // Advances time from deadline to deadline until `pred` holds (checked before each step) or `max_duration`
  // passed. Returns pred().
  bool RunUntil(const std::function<bool()>& pred, TimeDelta max_duration);
  void RunFor(TimeDelta duration);

  const NetworkStats& stats() const { return stats_; }

 private:
  struct Packet {
    SocketAddress src, dst;
    std::vector<uint8_t> data;
  };
  struct Mapping {
    SocketAddress internal;
    SocketAddress remote;  // the destination key for address(-and-port)-dependent mapping
    uint16_t external_port = 0;
    Timestamp expires;
    std::vector<SocketAddress> contacted;  // for filtering
  };
  struct Node {
    bool is_nat = false;
    IpAddress ip;
    uint32_t realm = 0;        // where the node lives
    uint32_t inner_realm = 0;  // NAT: its LAN
    NatConfig nat;
    LinkConditions up, down;
    std::vector<Mapping> mappings;
    std::map<uint16_t, SocketId> sockets;  // host: bound UDP ports
    std::map<uint16_t, AcceptHandler> listeners;
    std::vector<uint16_t> tcp_ports;  // NAT: ports used by stream mappings
  };
  struct Realm {
    NodeId nat = kNoNode;                          // kNoNode: the internet
    std::map<std::vector<uint8_t>, NodeId> nodes;  // by address bytes
  };
  struct Socket {
    NodeId host = kNoNode;
    SocketAddress local;
    DatagramHandler handler;
    bool open = false;
  };
  struct StreamEnd {
    StreamId peer = 0;
    StreamHandlers handlers;
    SocketAddress local, remote;
    TimeDelta one_way;
    Timestamp last_delivery;
    std::vector<NodeId> path;  // nodes whose links the stream crosses
    bool open = false;
  };
  struct Scheduled {
    Timestamp at;
    uint64_t seq = 0;
    std::function<void()> fn;
    bool operator>(const Scheduled& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  static std::vector<uint8_t> Key(const IpAddress& ip);
  double Uniform01();
  NodeId FindInRealm(uint32_t realm, const IpAddress& ip) const;
  // Applies a link's conditions and schedules `next` for each surviving copy.
  void Traverse(const LinkConditions& link, Packet packet, std::function<void(Packet)> next);
  void ArriveRealm(uint32_t realm, Packet packet);
  void ArriveNode(NodeId node, Packet packet);
  bool NatOutbound(NodeId nat, Packet& packet);
  void NatInbound(NodeId nat, Packet packet);
  uint16_t AllocatePort(Node& node, uint16_t preferred);
  void ProcessDue();
  Timestamp NextDeadline() const;
  bool PathUp(const std::vector<NodeId>& path) const;
  void ResetStream(StreamId id);

  SeededRng rng_;
  Timestamp now_;
  uint64_t seq_ = 0;
  std::vector<Node> nodes_;
  std::vector<Realm> realms_;
  std::vector<Socket> sockets_;
  std::map<StreamId, StreamEnd> streams_;
  StreamId next_stream_ = 1;
  std::priority_queue<Scheduled, std::vector<Scheduled>, std::greater<Scheduled>> queue_;
  std::vector<Process*> processes_;
  NetworkStats stats_;
};

}  // namespace tandem::sim

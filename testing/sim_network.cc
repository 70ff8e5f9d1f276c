#include "testing/sim_network.h"

#include <algorithm>
#include <stdexcept>

namespace tandem::sim {

NatConfig NatConfig::Of(NatType type) {
  NatConfig c;
  switch (type) {
    case NatType::kFullCone:
      c.mapping = NatBehavior::kEndpointIndependent;
      c.filtering = NatBehavior::kEndpointIndependent;
      break;
    case NatType::kRestrictedCone:
      c.mapping = NatBehavior::kEndpointIndependent;
      c.filtering = NatBehavior::kAddressDependent;
      break;
    case NatType::kPortRestricted:
      c.mapping = NatBehavior::kEndpointIndependent;
      c.filtering = NatBehavior::kAddressAndPortDependent;
      break;
    case NatType::kSymmetric:
      c.mapping = NatBehavior::kAddressAndPortDependent;
      c.filtering = NatBehavior::kAddressAndPortDependent;
      break;
  }
  return c;
}

const char* ToString(NatType type) {
  switch (type) {
    case NatType::kFullCone:
      return "full-cone";
    case NatType::kRestrictedCone:
      return "restricted-cone";
    case NatType::kPortRestricted:
      return "port-restricted";
    case NatType::kSymmetric:
      return "symmetric";
  }
  return "?";
}

Network::Network(uint64_t seed, Timestamp start) : rng_(seed), now_(start) { realms_.push_back(Realm{}); }
Network::~Network() = default;

std::vector<uint8_t> Network::Key(const IpAddress& ip) {
  std::vector<uint8_t> k(1 + ip.size());
  k[0] = static_cast<uint8_t>(ip.family());
  std::copy_n(ip.bytes().begin(), ip.size(), k.begin() + 1);
  return k;
}

double Network::Uniform01() { return static_cast<double>(rng_.NextU64() >> 11) * (1.0 / 9007199254740992.0); }

NodeId Network::FindInRealm(uint32_t realm, const IpAddress& ip) const {
  auto it = realms_[realm].nodes.find(Key(ip));
  return it == realms_[realm].nodes.end() ? kNoNode : it->second;
}

// ---------------------------------------------------------------------------------------------------------------
// Topology

NodeId Network::AddNat(const IpAddress& public_ip, NatConfig config, NodeId outer_nat) {
  const uint32_t realm = outer_nat == kNoNode ? 0 : nodes_.at(outer_nat).inner_realm;
  if (outer_nat != kNoNode && !nodes_[outer_nat].is_nat)
    throw std::invalid_argument("sim: outer node is not a NAT");
  if (FindInRealm(realm, public_ip) != kNoNode) throw std::invalid_argument("sim: address already in use");
  const NodeId id = static_cast<NodeId>(nodes_.size());
  Node n;
  n.is_nat = true;
  n.ip = public_ip;
  n.realm = realm;
  n.nat = config;
  n.inner_realm = static_cast<uint32_t>(realms_.size());
  nodes_.push_back(std::move(n));
  Realm inner;
  inner.nat = id;
  realms_.push_back(std::move(inner));
  realms_[realm].nodes[Key(public_ip)] = id;
  return id;
}

NodeId Network::AddHost(const IpAddress& ip, NodeId nat) {
  if (nat != kNoNode && !nodes_.at(nat).is_nat) throw std::invalid_argument("sim: not a NAT");
  const uint32_t realm = nat == kNoNode ? 0 : nodes_[nat].inner_realm;
  if (FindInRealm(realm, ip) != kNoNode) throw std::invalid_argument("sim: address already in use");
  const NodeId id = static_cast<NodeId>(nodes_.size());
  Node n;
  n.ip = ip;
  n.realm = realm;
  nodes_.push_back(std::move(n));
  realms_[realm].nodes[Key(ip)] = id;
  return id;
}

void Network::SetLink(NodeId node, LinkConditions up, LinkConditions down) {
  nodes_.at(node).up = up;
  nodes_.at(node).down = down;
}
LinkConditions& Network::uplink(NodeId node) { return nodes_.at(node).up; }
LinkConditions& Network::downlink(NodeId node) { return nodes_.at(node).down; }
void Network::SetLinkDown(NodeId node, bool down) {
  nodes_.at(node).up.down = down;
  nodes_.at(node).down.down = down;
}
const IpAddress& Network::AddressOf(NodeId node) const { return nodes_.at(node).ip; }

size_t Network::NatMappingCount(NodeId nat) const {
  size_t n = 0;
  for (const auto& m : nodes_.at(nat).mappings) {
    if (m.expires > now_) ++n;
  }
  return n;
}

uint16_t Network::AllocatePort(Node& node, uint16_t preferred) {
  auto used = [&](uint16_t port) {
    if (node.sockets.count(port) != 0 || node.listeners.count(port) != 0) return true;
    if (std::find(node.tcp_ports.begin(), node.tcp_ports.end(), port) != node.tcp_ports.end()) return true;
    for (const auto& m : node.mappings) {
      if (m.external_port == port && m.expires > now_) return true;
    }
    return false;
  };
  if (preferred != 0 && !used(preferred)) return preferred;
  for (int attempt = 0; attempt < 100000; ++attempt) {
    const auto port = static_cast<uint16_t>(rng_.Uniform(1024, 65535));
    if (!used(port)) return port;
  }
  throw std::runtime_error("sim: out of ports");
}

// ---------------------------------------------------------------------------------------------------------------
// UDP

SocketId Network::BindUdp(NodeId host, uint16_t port, DatagramHandler handler) {
  Node& n = nodes_.at(host);
  if (n.is_nat) throw std::invalid_argument("sim: cannot bind on a NAT");
  if (port != 0 && n.sockets.count(port) != 0) throw std::invalid_argument("sim: port in use");
  if (port == 0) port = AllocatePort(n, 0);
  const SocketId id = static_cast<SocketId>(sockets_.size());
  sockets_.push_back(Socket{host, SocketAddress(n.ip, port), std::move(handler), true});
  n.sockets[port] = id;
  return id;
}

void Network::CloseUdp(SocketId socket) {
  Socket& s = sockets_.at(socket);
  if (!s.open) return;
  s.open = false;
  nodes_[s.host].sockets.erase(s.local.port());
}

SocketAddress Network::LocalAddress(SocketId socket) const { return sockets_.at(socket).local; }
NodeId Network::HostOf(SocketId socket) const { return sockets_.at(socket).host; }

void Network::SendUdp(SocketId socket, const SocketAddress& to, ByteSpan data) {
  const Socket& s = sockets_.at(socket);
  if (!s.open) return;
  ++stats_.sent;
  Packet p{s.local, to, std::vector<uint8_t>(data.begin(), data.end())};
  const uint32_t realm = nodes_[s.host].realm;
  Traverse(nodes_[s.host].up, std::move(p), [this, realm](Packet q) { ArriveRealm(realm, std::move(q)); });
}

void Network::Traverse(const LinkConditions& link, Packet packet, std::function<void(Packet)> next) {
  if (link.down || (link.loss > 0 && Uniform01() < link.loss)) {
    ++stats_.dropped_loss;
    return;
  }
  int copies = 1;
  if (link.duplicate > 0 && Uniform01() < link.duplicate) {
    copies = 2;
    ++stats_.duplicated;
  }
  for (int i = 0; i < copies; ++i) {
    TimeDelta delay = link.latency;
    if (link.jitter > TimeDelta::Zero()) {
      delay = delay +
              TimeDelta::Micros(static_cast<int64_t>(Uniform01() * static_cast<double>(link.jitter.us())));
    }
    if (link.reorder > 0 && Uniform01() < link.reorder) delay = delay + link.reorder_delay;
    Packet copy = i + 1 == copies ? std::move(packet) : packet;
    Schedule(now_ + delay, [next, p = std::move(copy)]() mutable { next(std::move(p)); });
  }
}

void Network::ArriveRealm(uint32_t realm, Packet packet) {
  const NodeId dest = FindInRealm(realm, packet.dst.ip());
  if (dest != kNoNode) {
    Traverse(nodes_[dest].down, std::move(packet),
             [this, dest](Packet q) { ArriveNode(dest, std::move(q)); });
    return;
  }
  const NodeId nat = realms_[realm].nat;
  if (nat == kNoNode) {
    ++stats_.dropped_no_route;
    return;
  }
  if (packet.dst.ip() == nodes_[nat].ip) {
    // RFC 4787 §6: hairpinning, with the sender's external address as the source.
    if (!nodes_[nat].nat.hairpinning) {
      ++stats_.dropped_nat_filter;
      return;
    }
    if (!NatOutbound(nat, packet)) return;
    NatInbound(nat, std::move(packet));
    return;
  }
  if (!NatOutbound(nat, packet)) return;
  const uint32_t outer = nodes_[nat].realm;
  Traverse(nodes_[nat].up, std::move(packet), [this, outer](Packet q) { ArriveRealm(outer, std::move(q)); });
}

void Network::ArriveNode(NodeId node, Packet packet) {
  Node& n = nodes_[node];
  if (n.is_nat) {
    NatInbound(node, std::move(packet));
    return;
  }
  auto it = n.sockets.find(packet.dst.port());
  if (it == n.sockets.end() || !sockets_[it->second].open) {
    ++stats_.dropped_no_socket;
    return;
  }
  ++stats_.delivered;
  DatagramHandler handler = sockets_[it->second].handler;  // the handler may close its socket
  handler(now_, packet.src, packet.data);
}

bool Network::NatOutbound(NodeId nat, Packet& packet) {
  Node& n = nodes_[nat];
  std::erase_if(n.mappings, [&](const Mapping& m) { return m.expires <= now_; });
  // RFC 4787 §4.1: which destinations share a mapping.
  SocketAddress remote_key;
  if (n.nat.mapping == NatBehavior::kAddressDependent) remote_key = SocketAddress(packet.dst.ip(), 0);
  if (n.nat.mapping == NatBehavior::kAddressAndPortDependent) remote_key = packet.dst;
  Mapping* mapping = nullptr;
  for (auto& m : n.mappings) {
    if (m.internal == packet.src && m.remote == remote_key) {
      mapping = &m;
      break;
    }
  }
  if (mapping == nullptr) {
    Mapping m;
    m.internal = packet.src;
    m.remote = remote_key;
    m.external_port = AllocatePort(n, n.nat.port_preservation ? packet.src.port() : 0);
    n.mappings.push_back(std::move(m));
    mapping = &n.mappings.back();
    ++stats_.nat_mappings_created;
  }
  mapping->expires = now_ + n.nat.mapping_lifetime;
  if (std::find(mapping->contacted.begin(), mapping->contacted.end(), packet.dst) ==
      mapping->contacted.end()) {
    if (mapping->contacted.size() >= 64) mapping->contacted.erase(mapping->contacted.begin());
    mapping->contacted.push_back(packet.dst);
  }
  packet.src = SocketAddress(n.ip, mapping->external_port);
  return true;
}

void Network::NatInbound(NodeId nat, Packet packet) {
  Node& n = nodes_[nat];
  std::erase_if(n.mappings, [&](const Mapping& m) { return m.expires <= now_; });
  Mapping* mapping = nullptr;
  for (auto& m : n.mappings) {
    if (m.external_port == packet.dst.port()) {
      mapping = &m;
      break;
    }
  }
  if (mapping == nullptr) {
    ++stats_.dropped_nat_filter;
    return;
  }
  // RFC 4787 §5: filtering.
  bool allowed = true;
  if (n.nat.filtering == NatBehavior::kAddressDependent) {
    allowed = std::any_of(mapping->contacted.begin(), mapping->contacted.end(),
                          [&](const SocketAddress& c) { return c.ip() == packet.src.ip(); });
  } else if (n.nat.filtering == NatBehavior::kAddressAndPortDependent) {
    allowed = std::find(mapping->contacted.begin(), mapping->contacted.end(), packet.src) !=
              mapping->contacted.end();
  }
  if (!allowed) {
    ++stats_.dropped_nat_filter;
    return;
  }
  if (n.nat.inbound_refreshes) mapping->expires = now_ + n.nat.mapping_lifetime;
  packet.dst = mapping->internal;
  ArriveRealm(n.inner_realm, std::move(packet));
}

// ---------------------------------------------------------------------------------------------------------------
// Streams

void Network::ListenStream(NodeId host, uint16_t port, AcceptHandler accept) {
  Node& n = nodes_.at(host);
  if (n.is_nat) throw std::invalid_argument("sim: cannot listen on a NAT");
  n.listeners[port] = std::move(accept);
}

bool Network::PathUp(const std::vector<NodeId>& path) const {
  for (NodeId id : path) {
    if (nodes_[id].up.down || nodes_[id].down.down) return false;
  }
  return true;
}

StreamId Network::ConnectStream(NodeId host, const SocketAddress& to, StreamHandlers handlers) {
  const StreamId id = next_stream_++;
  StreamEnd client;
  client.handlers = std::move(handlers);
  client.remote = to;
  client.path.push_back(host);
  Node& h = nodes_.at(host);
  client.local = SocketAddress(h.ip, static_cast<uint16_t>(rng_.Uniform(49152, 65535)));
  // Route outwards through the NATs (each gives the connection a fresh external port) until `to` is in the
  // realm.
  SocketAddress apparent = client.local;
  uint32_t realm = h.realm;
  NodeId target = kNoNode;
  TimeDelta one_way = h.up.latency;
  for (;;) {
    target = FindInRealm(realm, to.ip());
    if (target != kNoNode) break;
    const NodeId nat = realms_[realm].nat;
    if (nat == kNoNode) break;
    client.path.push_back(nat);
    Node& natnode = nodes_[nat];
    const uint16_t port = AllocatePort(natnode, 0);
    natnode.tcp_ports.push_back(port);
    apparent = SocketAddress(natnode.ip, port);
    one_way = one_way + natnode.up.latency;
    realm = natnode.realm;
  }
  const bool reachable =
      target != kNoNode && !nodes_[target].is_nat && nodes_[target].listeners.count(to.port()) != 0;
  if (reachable) {
    client.path.push_back(target);
    one_way = one_way + nodes_[target].down.latency;
  }
  client.one_way = one_way;
  client.last_delivery = now_;
  streams_[id] = client;
  if (!reachable || !PathUp(client.path)) {
    Schedule(now_ + one_way * 2, [this, id] {
      auto it = streams_.find(id);
      if (it == streams_.end()) return;
      auto on_closed = it->second.handlers.on_closed;
      streams_.erase(it);
      if (on_closed) on_closed(now_);
    });
    return id;
  }
  // The handshake takes a round trip; the server accepts when the SYN arrives.
  const StreamId server_id = next_stream_++;
  Schedule(now_ + one_way, [this, id, server_id, target, to, apparent] {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    auto listener = nodes_[target].listeners.find(to.port());
    if (listener == nodes_[target].listeners.end() || !PathUp(it->second.path)) {
      ResetStream(id);
      return;
    }
    StreamEnd server;
    server.peer = id;
    server.local = to;
    server.remote = apparent;
    server.one_way = it->second.one_way;
    server.path = it->second.path;
    server.last_delivery = now_;
    server.open = true;
    streams_[server_id] = server;
    streams_[server_id].handlers = listener->second(now_, server_id, apparent);
    Schedule(now_ + it->second.one_way, [this, id, server_id] {
      auto c = streams_.find(id);
      if (c == streams_.end()) return;
      c->second.open = true;
      c->second.peer = server_id;
      if (c->second.handlers.on_connected) c->second.handlers.on_connected(now_, c->second.local);
    });
  });
  return id;
}

void Network::StreamSend(StreamId stream, ByteSpan data) {
  auto it = streams_.find(stream);
  if (it == streams_.end() || !it->second.open || data.empty()) return;
  StreamEnd& end = it->second;
  if (!PathUp(end.path)) {
    ResetStream(stream);  // a cut link: the connection times out
    return;
  }
  stats_.stream_bytes += data.size();
  const Timestamp at = std::max(now_ + end.one_way, end.last_delivery);
  end.last_delivery = at;
  const StreamId peer = end.peer;
  Schedule(at, [this, peer, bytes = std::vector<uint8_t>(data.begin(), data.end())] {
    auto p = streams_.find(peer);
    if (p == streams_.end() || !p->second.open || !p->second.handlers.on_data) return;
    auto on_data = p->second.handlers.on_data;
    on_data(now_, bytes);
  });
}

void Network::StreamClose(StreamId stream) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  const StreamId peer = it->second.peer;
  const Timestamp at = std::max(now_ + it->second.one_way, it->second.last_delivery);
  streams_.erase(it);
  if (peer == 0) return;
  Schedule(at, [this, peer] {
    auto p = streams_.find(peer);
    if (p == streams_.end()) return;
    auto on_closed = p->second.handlers.on_closed;
    streams_.erase(p);
    if (on_closed) on_closed(now_);
  });
}

void Network::ResetStream(StreamId id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  const StreamId peer = it->second.peer;
  for (StreamId s : {id, peer}) {
    auto e = streams_.find(s);
    if (e == streams_.end()) continue;
    auto on_closed = e->second.handlers.on_closed;
    streams_.erase(e);
    if (on_closed) Schedule(now_, [this, on_closed] { on_closed(now_); });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Time

void Network::Schedule(Timestamp at, std::function<void()> fn) {
  queue_.push(Scheduled{std::max(at, now_), seq_++, std::move(fn)});
}

void Network::AddProcess(Process* process) { processes_.push_back(process); }
void Network::RemoveProcess(Process* process) { std::erase(processes_, process); }

Timestamp Network::NextDeadline() const {
  Timestamp t = queue_.empty() ? Timestamp::Infinity() : queue_.top().at;
  for (const Process* p : processes_) t = std::min(t, p->NextTimeout());
  return t;
}

void Network::ProcessDue() {
  while (!queue_.empty() && queue_.top().at <= now_) {
    // Moving the callable out does not change the ordering keys.
    Scheduled item = std::move(const_cast<Scheduled&>(queue_.top()));
    queue_.pop();
    item.fn();
  }
}

bool Network::RunUntil(const std::function<bool()>& pred, TimeDelta max_duration) {
  const Timestamp end = now_ + max_duration;
  uint64_t spins = 0;
  for (;;) {
    if (pred()) return true;
    const Timestamp next = NextDeadline();
    if (next > end) {
      now_ = std::max(now_, end);
      return pred();
    }
    if (next > now_) {
      now_ = next;
      spins = 0;
    } else if (++spins > 1000000) {
      throw std::runtime_error("sim: livelock: a process keeps asking for a timeout at or before now");
    }
    ProcessDue();
    for (size_t i = 0; i < processes_.size(); ++i) {
      Process* p = processes_[i];
      if (p->NextTimeout() <= now_) p->OnTimeout(now_);
    }
  }
}

void Network::RunFor(TimeDelta duration) {
  RunUntil([] { return false; }, duration);
}

}  // namespace tandem::sim

#include "signal/signaling_core.h"

#include <algorithm>
#include <vector>

#include "core/crypto.h"
#include "core/log.h"
#include "signal/base64url.h"
#include "signal/json.h"
#include "signal/names.h"
#include "signal/protocol.h"
#include "signal/relay_fast_path.h"

namespace tandem::signaling {
namespace {

constexpr char kLog[] = "signal";
constexpr char kAnonymous[] = "anonymous";
// A peer whose frames keep being refused by the rate limit this many times in a row (a multiple of the burst)
// is not a browser having a busy moment: it is closed with 4008.
constexpr uint32_t kAbuseBursts = 4;

ApiResponse ErrorResponse(Code code, std::string_view message) {
  return ApiResponse{HttpStatus(code),
                     DumpJson({{"error", {{"code", CodeName(code)}, {"message", message}}}})};
}
ApiResponse ErrorResponse(const Failure& f) { return ErrorResponse(f.code, f.message); }

ApiResponse MethodNotAllowed(const char* allow) {
  ApiResponse r = ErrorResponse(Code::kMethodNotAllowed, "method not allowed");
  r.allow = allow;
  return r;
}

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

std::string_view QueryOf(std::string_view target) {
  const size_t q = target.find('?');
  return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The first `name=value` in an application/x-www-form-urlencoded query, percent-decoded. nullopt when absent
// or badly encoded.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    const std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        out += ' ';
      } else if (raw[i] == '%') {
        if (i + 2 >= raw.size()) return std::nullopt;
        const int hi = HexValue(raw[i + 1]), lo = HexValue(raw[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
      } else {
        out += raw[i];
      }
    }
    return out;
  }
  return std::nullopt;
}

// "Bearer <credential>" (RFC 6750 §2.1; the scheme is case-insensitive). Empty when absent or another scheme.
std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return {};
  }
  std::string_view rest = authorization.substr(kScheme.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  return rest;
}

// Compares digests so the time taken does not depend on where (or whether the lengths) differ.
bool SecretEquals(std::string_view a, std::string_view b) {
  return crypto::ConstantTimeEqual(crypto::Sha256(AsBytes(a)), crypto::Sha256(AsBytes(b)));
}

}  // namespace

SignalingCore::SignalingCore(SignalConfig config, Rng& rng)
    : config_(std::move(config)),
      rng_(rng),
      tokens_(config_.token_secret, config_.token_limits),
      registry_(config_.limits, rng),
      liveness_(config_.ping_interval, config_.liveness_timeout) {}

SignalingCore::~SignalingCore() = default;

bool SignalingCore::IsApiPath(std::string_view path) {
  path = PathOf(path);
  return path == "/healthz" || path == "/api" || path.substr(0, 5) == "/api/";
}

// ---------------------------------------------------------------------------------------------------------------
// Outputs

void SignalingCore::Send(ConnectionId connection, std::shared_ptr<const std::string> text) {
  ++stats_.frames_sent;
  Output out;
  out.kind = Output::Kind::kSend;
  out.connection = connection;
  out.text = std::move(text);
  outputs_.push_back(std::move(out));
}

void SignalingCore::Send(ConnectionId connection, std::string text) {
  Send(connection, std::make_shared<const std::string>(std::move(text)));
}

std::optional<Output> SignalingCore::PollOutput() {
  if (outputs_.empty()) return std::nullopt;
  Output out = std::move(outputs_.front());
  outputs_.pop_front();
  return out;
}

void SignalingCore::ClosePeer(ConnectionId connection, CloseCode code, const char* reason) {
  ++stats_.peers_closed_by_server;
  Output out;
  out.kind = Output::Kind::kClose;
  out.connection = connection;
  out.close_code = code;
  out.reason = reason;
  outputs_.push_back(std::move(out));
  RemovePeer(connection, /*announce=*/true);
}

void SignalingCore::RemovePeer(ConnectionId connection, bool announce) {
  std::unique_ptr<Peer> peer = registry_.Remove(connection);
  if (!peer) return;
  liveness_.Remove(connection);
  ++stats_.peers_left;
  LOG_DEBUG(kLog, "peer " << peer->id << " left room " << peer->room);
  if (!announce) return;
  if (Room* room = registry_.FindRoom(peer->room)) {
    auto text = std::make_shared<const std::string>(PeerLeftFrame(peer->id));
    for (Peer* other : room->peers) Send(other->connection, text);
  }
}

void SignalingCore::CloseAll() {
  std::vector<ConnectionId> all;
  registry_.ForEachPeer([&](Peer& p) { all.push_back(p.connection); });
  for (ConnectionId c : all) {
    Output out;
    out.kind = Output::Kind::kClose;
    out.connection = c;
    out.close_code = CloseCode::kGoingAway;
    out.reason = "server shutting down";
    outputs_.push_back(std::move(out));
    RemovePeer(c, /*announce=*/false);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// WebSocket

std::optional<ApiResponse> SignalingCore::HandleUpgrade(Timestamp now, UnixTime wall, ConnectionId connection,
                                                        const IpAddress& client, std::string_view target) {
  auto refuse = [&](const Failure& f) {
    ++stats_.upgrades_refused;
    LOG_DEBUG(kLog, "upgrade refused from " << log::Redact(client.ToString()) << ": " << CodeName(f.code)
                                            << " (" << f.message << ")");
    return std::optional<ApiResponse>(ErrorResponse(f));
  };
  if (PathOf(target) != "/ws") return refuse({Code::kNotFound, "no WebSocket endpoint here"});
  const std::optional<std::string> token = QueryParam(QueryOf(target), "token");
  if (!token || token->empty()) return refuse({Code::kBadToken, "missing token"});
  Checked<TokenClaims> claims = tokens_.Verify(*token, wall);
  if (!claims) return refuse(claims.failure());
  if (!claims->can_join()) return refuse({Code::kForbidden, "token does not allow joining"});
  Checked<Peer*> added = registry_.Add(connection, client, claims->identity, claims->room, now);
  if (!added) return refuse(added.failure());
  Peer& peer = **added;
  liveness_.Add(connection, now);
  ++stats_.peers_joined;
  LOG_DEBUG(kLog, "peer " << peer.id << " joined room " << peer.room);

  Room* room = registry_.FindRoom(peer.room);
  std::vector<PeerInfo> others;
  for (Peer* p : room->peers)
    if (p != &peer) others.push_back({p->id, p->identity});
  Send(connection, WelcomeFrame(peer.id, peer.room, peer.identity, others,
                                BuildIceServers(config_.ice, peer.identity, wall)));
  auto joined = std::make_shared<const std::string>(PeerJoinedFrame({peer.id, peer.identity}));
  for (Peer* p : room->peers)
    if (p != &peer) Send(p->connection, joined);
  return std::nullopt;
}

void SignalingCore::HandleFrame(Timestamp now, ConnectionId connection, std::string_view text, bool binary) {
  Peer* peer = registry_.ByConnection(connection);
  if (peer == nullptr) return;
  ++stats_.frames_received;
  liveness_.Touch(connection, now);
  if (text.size() > config_.max_message_bytes) {
    HandleFrameTooLarge(now, connection);
    return;
  }
  if (!peer->bucket.TryTake(now)) {
    ++stats_.frames_rate_limited;
    const uint32_t abuse = kAbuseBursts * std::max<uint32_t>(config_.limits.message_burst, 1);
    if (++peer->dropped_in_a_row > abuse) {
      ++stats_.frames_refused;
      Send(connection, ErrorFrame(Code::kRateLimited, "rate limit exceeded repeatedly", std::nullopt));
      ClosePeer(connection, CloseCode::kPolicy, "rate_limited");
      return;
    }
    if (now >= peer->next_rate_error) {
      ++stats_.frames_refused;
      peer->next_rate_error = now + TimeDelta::Seconds(1);
      Send(connection, ErrorFrame(Code::kRateLimited, "too many messages; frame dropped", std::nullopt));
    }
    return;
  }
  peer->dropped_in_a_row = 0;
  if (binary) {
    ++stats_.frames_refused;
    Send(connection, ErrorFrame(Code::kBadJson, "binary frames are not supported", std::nullopt));
    return;
  }
  RouteFrame(now, *peer, text);
}

void SignalingCore::RouteFrame(Timestamp now, Peer& from, std::string_view text) {
  // Offers, answers and candidates to a peer of the room, relayed without building a JSON document
  // (relay_fast_path.h: the same output as below, byte for byte). Everything else, refusals included, goes
  // the general way.
  if (std::optional<FastRelay> fast = ScanRelayFrame(text)) {
    Peer* target = registry_.ById(fast->to);
    if (target != nullptr && target->room == from.room && IsPlainJsonText(from.id)) {
      LOG_TRACE(kLog, "peer " << from.id << ": " << TypeName(fast->type));
      std::string relayed;
      AppendRelayFrame(relayed, *fast, from.id);
      Send(target->connection, std::move(relayed));
      return;
    }
  }
  ParsedFrame parsed = ParseClientFrame(text);
  if (const FrameError* e = std::get_if<FrameError>(&parsed)) {
    ++stats_.frames_refused;
    LOG_TRACE(kLog, "peer " << from.id << ": refused frame: " << CodeName(e->code));
    Send(from.connection, ErrorFrame(e->code, e->message, e->ref));
    return;
  }
  ClientFrame& frame = std::get<ClientFrame>(parsed);
  LOG_TRACE(kLog, "peer " << from.id << ": " << TypeName(frame.type));
  if (frame.type == ClientFrame::Type::kPing) {
    Send(from.connection, PongFrame(frame.body));
    return;
  }
  if (frame.to) {
    Peer* target = registry_.ById(*frame.to);
    if (target == nullptr || target->room != from.room) {
      ++stats_.frames_refused;
      Send(from.connection, ErrorFrame(Code::kUnknownPeer, "no such peer in this room", frame.id));
      return;
    }
    Send(target->connection, RelayFrame(frame.type, from.id, frame.body));
    return;
  }
  // Only "message" may omit "to": every other peer in the room.
  Room* room = registry_.FindRoom(from.room);
  if (room == nullptr || room->peers.size() < 2) return;
  auto shared = std::make_shared<const std::string>(RelayFrame(frame.type, from.id, frame.body));
  for (Peer* p : room->peers)
    if (p != &from) Send(p->connection, shared);
}

void SignalingCore::HandleFrameTooLarge(Timestamp now, ConnectionId connection) {
  if (registry_.ByConnection(connection) == nullptr) return;
  ++stats_.frames_refused;
  Send(connection, ErrorFrame(Code::kTooLarge, "frame above the size limit", std::nullopt));
  ClosePeer(connection, CloseCode::kTooLarge, "too_large");
}

void SignalingCore::HandlePong(Timestamp now, ConnectionId connection) { liveness_.Touch(connection, now); }

void SignalingCore::HandleClosed(Timestamp now, ConnectionId connection) { RemovePeer(connection, true); }

void SignalingCore::HandleTimeout(Timestamp now) {
  std::vector<Liveness::Id> ping, dead;
  liveness_.Poll(now, ping, dead);
  for (Liveness::Id id : ping) {
    Output out;
    out.kind = Output::Kind::kPing;
    out.connection = id;
    outputs_.push_back(std::move(out));
  }
  for (Liveness::Id id : dead) {
    ++stats_.peers_timed_out;
    ClosePeer(id, CloseCode::kPolicy, "timeout");
  }
}

Timestamp SignalingCore::NextTimeout() const { return liveness_.NextTimeout(); }

// ---------------------------------------------------------------------------------------------------------------
// HTTP API

ApiResponse SignalingCore::HandleApi(Timestamp now, UnixTime wall, const ApiRequest& request) {
  ++stats_.api_requests;
  if (request.body.size() > config_.max_message_bytes)
    return ErrorResponse(Code::kTooLarge, "body too large");
  const std::string_view path = PathOf(request.target);
  const std::string_view method = request.method;
  if (path == "/healthz") {
    if (method != "GET") return MethodNotAllowed("GET");
    return ApiResponse{200, R"({"ok":true})"};
  }
  if (path == "/api/token") {
    if (method != "POST") return MethodNotAllowed("POST");
    return MintToken(wall, request);
  }
  if (path == "/api/ice-servers") {
    if (method != "GET") return MethodNotAllowed("GET");
    return IceServers(wall, request);
  }
  constexpr std::string_view kRooms = "/api/rooms/";
  if (path.substr(0, kRooms.size()) == kRooms) {
    const std::string_view rest = path.substr(kRooms.size());
    const size_t slash = rest.find('/');
    const std::string_view room = rest.substr(0, slash);
    if (!IsValidRoomName(room)) return ErrorResponse(Code::kNotFound, "no such room");
    if (slash == std::string_view::npos) {
      if (method != "GET") return MethodNotAllowed("GET");
      return Presence(wall, request, room);
    }
    if (rest.substr(slash) == "/messages") {
      if (method != "POST") return MethodNotAllowed("POST");
      return PostMessage(now, wall, request, room);
    }
  }
  return ErrorResponse(Code::kNotFound, "no such route");
}

ApiResponse SignalingCore::MintToken(UnixTime wall, const ApiRequest& request) {
  if (!config_.dev) {
    const std::string_view key = BearerToken(request.authorization);
    if (config_.api_key.empty() || key.empty() || !SecretEquals(key, config_.api_key))
      return ErrorResponse(Code::kUnauthorized, "missing or wrong API key");
  }
  const std::optional<Json> body = ParseJson(request.body);
  if (!body || !body->is_object()) return ErrorResponse(Code::kBadRequest, "body must be a JSON object");
  TokenClaims claims;
  const std::string* room = StringField(*body, "room");
  if (room == nullptr || !IsValidRoomName(*room))
    return ErrorResponse(Code::kBadRequest, "room must be 1-64 characters from [A-Za-z0-9_.-]");
  const std::string* identity = StringField(*body, "identity");
  if (identity == nullptr || !IsValidIdentity(*identity))
    return ErrorResponse(Code::kBadRequest, "identity must be 1-64 printable characters");
  claims.room = *room;
  claims.identity = *identity;
  if (const Json* perms = Field(*body, "perms")) {
    if (!perms->is_array() || perms->empty() || perms->size() > 2)
      return ErrorResponse(Code::kBadRequest, "perms must be a non-empty array of \"join\", \"send\"");
    claims.perms = 0;
    for (const Json& p : *perms) {
      const uint8_t bit = p.is_string() ? PermissionFromName(p.get_ref<const std::string&>()) : 0;
      if (bit == 0 || (claims.perms & bit) != 0)
        return ErrorResponse(Code::kBadRequest, "perms must be a non-empty array of \"join\", \"send\"");
      claims.perms |= bit;
    }
  }
  int64_t ttl = config_.default_token_ttl_seconds;
  if (const Json* t = Field(*body, "ttl")) {
    const std::optional<int64_t> v = AsInt64(*t);
    if (!v || *v < 1 || *v > config_.token_limits.max_lifetime_seconds)
      return ErrorResponse(Code::kBadRequest, "ttl must be an integer number of seconds, at most 86400");
    ttl = *v;
  }
  claims.issued_at = wall.seconds;
  claims.expires_at = wall.seconds + ttl;
  uint8_t jti[16];
  rng_.Fill(jti);
  claims.jti = Base64UrlEncode(jti);
  ++stats_.tokens_minted;
  return ApiResponse{200, DumpJson({{"token", tokens_.Mint(claims)},
                                    {"room", claims.room},
                                    {"identity", claims.identity},
                                    {"expiresAt", claims.expires_at}})};
}

ApiResponse SignalingCore::IceServers(UnixTime wall, const ApiRequest& request) {
  std::string identity = kAnonymous;
  const std::string_view bearer = BearerToken(request.authorization);
  if (!config_.dev || !bearer.empty()) {
    if (bearer.empty()) return ErrorResponse(Code::kBadToken, "missing bearer token");
    Checked<TokenClaims> claims = tokens_.Verify(bearer, wall);
    if (!claims) return ErrorResponse(claims.failure());
    identity = claims->identity;
  }
  return ApiResponse{200,
                     DumpJson({{"iceServers", IceServersJson(BuildIceServers(config_.ice, identity, wall))},
                               {"ttl", config_.ice.credential_ttl_seconds}})};
}

ApiResponse SignalingCore::Presence(UnixTime wall, const ApiRequest& request, std::string_view room_name) {
  const std::string_view bearer = BearerToken(request.authorization);
  if (bearer.empty()) return ErrorResponse(Code::kBadToken, "missing bearer token");
  Checked<TokenClaims> claims = tokens_.Verify(bearer, wall);
  if (!claims) return ErrorResponse(claims.failure());
  if (claims->room != room_name) return ErrorResponse(Code::kForbidden, "token is for another room");
  Json peers = Json::array();
  if (Room* room = registry_.FindRoom(room_name)) {
    for (Peer* p : room->peers) peers.push_back({{"peerId", p->id}, {"identity", p->identity}});
  }
  return ApiResponse{200, DumpJson({{"room", room_name}, {"peers", std::move(peers)}})};
}

ApiResponse SignalingCore::PostMessage(Timestamp now, UnixTime wall, const ApiRequest& request,
                                       std::string_view room_name) {
  const std::string_view bearer = BearerToken(request.authorization);
  if (bearer.empty()) return ErrorResponse(Code::kBadToken, "missing bearer token");
  Checked<TokenClaims> claims = tokens_.Verify(bearer, wall);
  if (!claims) return ErrorResponse(claims.failure());
  if (claims->room != room_name) return ErrorResponse(Code::kForbidden, "token is for another room");
  if (!claims->can_send()) return ErrorResponse(Code::kForbidden, "token does not allow sending");
  std::optional<Json> body = ParseJson(request.body);
  if (!body || !body->is_object()) return ErrorResponse(Code::kBadRequest, "body must be a JSON object");
  auto data = body->find("data");
  if (data == body->end()) return ErrorResponse(Code::kBadRequest, "missing data");
  const Json* to = Field(*body, "to");
  if (to != nullptr && !to->is_string()) return ErrorResponse(Code::kBadRequest, "'to' must be a string");

  Room* room = registry_.FindRoom(room_name);
  Peer* target = nullptr;
  if (to != nullptr) {
    target = registry_.ById(to->get_ref<const std::string&>());
    if (target == nullptr || target->room != room_name)
      return ErrorResponse(Code::kUnknownPeer, "no such peer in this room");
  }
  if (room == nullptr) return ApiResponse{202, R"({"delivered":0})"};
  if (!room->http_bucket.TryTake(now))
    return ErrorResponse(Code::kRateLimited, "too many messages to this room");
  auto text = std::make_shared<const std::string>(
      RelayFrame(ClientFrame::Type::kMessage, "http:" + claims->identity, *data));
  size_t delivered = 0;
  if (target != nullptr) {
    Send(target->connection, text);
    delivered = 1;
  } else {
    for (Peer* p : room->peers) Send(p->connection, text);
    delivered = room->peers.size();
  }
  stats_.api_messages_delivered += delivered;
  return ApiResponse{202, DumpJson({{"delivered", delivered}})};
}

}  // namespace tandem::signaling

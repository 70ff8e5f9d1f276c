#include "client/room_client.h"

#include <future>
#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "core/log.h"
#include "net/event_loop.h"
#include "net/http_client.h"
#include "peer/runtime_impl.h"

namespace tandem::client {

namespace {

constexpr char kLog[] = "client.room";
using Json = nlohmann::json;
// The SDK's negotiated channel ids start here (web/sdk/tandem.js NEGOTIATED_ID_BASE).
constexpr uint16_t kNegotiatedIdBase = 1000;

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::vector<IceServer> ParseIceServers(const Json& list) {
  std::vector<IceServer> out;
  if (!list.is_array()) return out;
  for (const Json& entry : list) {
    if (!entry.is_object()) continue;
    IceServer server;
    const Json& urls = entry.value("urls", Json());
    if (urls.is_string()) {
      server.urls.push_back(urls.get<std::string>());
    } else if (urls.is_array()) {
      for (const Json& u : urls) {
        if (u.is_string()) server.urls.push_back(u.get<std::string>());
      }
    }
    if (entry.contains("username") && entry["username"].is_string()) server.username = entry["username"];
    if (entry.contains("credential") && entry["credential"].is_string())
      server.credential = entry["credential"];
    if (!server.urls.empty()) out.push_back(std::move(server));
  }
  return out;
}

}  // namespace

std::shared_ptr<DataChannel> RemotePeer::channel(const std::string& label) const {
  auto it = channels_.find(label);
  return it == channels_.end() ? nullptr : it->second;
}

RoomClient::RoomClient(RoomOptions options, Handlers handlers)
    : options_(std::move(options)), handlers_(std::move(handlers)), runtime_(Runtime::Create(1)) {
  if (options_.identity.empty()) {
    uint8_t random[4];
    crypto::SecureRandomBytes(random);
    options_.identity = "native-" + crypto::HexEncode(random);
  }
}

RoomClient::~RoomClient() {
  Leave();
  // The socket belongs to the loop: release it there. Peer connections may go from here (they post to the
  // loop).
  std::promise<void> done;
  Post([this, &done] {
    socket_.reset();
    done.set_value();
  });
  done.get_future().wait();
  graveyard_.clear();
  peers_.clear();
}

net::EventLoop& RoomClient::loop() { return *runtime_->impl().loops.front(); }

void RoomClient::Post(std::function<void()> fn) { loop().Post(std::move(fn)); }

void RoomClient::Start() {
  Post([this] {
    if (!options_.token.empty()) return OpenSocket();
    auto base = net::Url::Parse(options_.server);
    if (!base) return Fail("bad_url", "cannot parse the server URL " + options_.server, true);
    net::HttpClientRequest request;
    request.method = "POST";
    request.url = *base;
    request.url.target = "/api/token";
    request.headers = {{"Content-Type", "application/json"}};
    if (!options_.api_key.empty())
      request.headers.emplace_back("Authorization", "Bearer " + options_.api_key);
    request.body = Json{{"room", options_.room}, {"identity", options_.identity}}.dump();
    request.tls.verify_peer = options_.verify_tls;
    net::HttpFetch(loop(), std::move(request), [this](net::HttpClientResponse response) {
      if (left_) return;
      if (!response.error.empty())
        return Fail("signaling_failed", "cannot reach the server: " + response.error, true);
      Json body = Json::parse(response.body, nullptr, false);
      if (response.status != 200 || !body.is_object() || !body.contains("token") ||
          !body["token"].is_string()) {
        std::string why = "HTTP " + std::to_string(response.status);
        if (body.is_object() && body.contains("error") && body["error"].is_object()) {
          why += ": " + body["error"].value("message", std::string());
        }
        return Fail("bad_token", "the server refused a token: " + why, true);
      }
      options_.token = body["token"].get<std::string>();
      OpenSocket();
    });
  });
}

void RoomClient::OpenSocket() {
  auto url = net::Url::Parse(options_.server);
  if (!url) return Fail("bad_url", "cannot parse the server URL " + options_.server, true);
  url->scheme = url->secure() ? "wss" : "ws";
  url->target = "/ws?token=" + UrlEncode(options_.token);
  net::WebSocketClientHandlers h;
  h.on_message = [this](std::string_view text) { OnFrame(text); };
  h.on_close = [this](uint16_t code, std::string reason) {
    if (left_) return;
    Fail(code == 4001 ? "bad_token" : "signaling_closed",
         "the signaling socket closed (" + std::to_string(code) + "): " + reason, true);
  };
  net::WebSocketClientOptions options;
  options.tls.verify_peer = options_.verify_tls;
  socket_ = net::WebSocketClient::Connect(loop(), *url, std::move(h), options);
}

void RoomClient::Fail(const std::string& code, const std::string& message, bool fatal) {
  LOG_INFO(kLog, code << ": " << message);
  if (handlers_.on_error) handlers_.on_error(code, message, fatal);
}

void RoomClient::Signal(const std::string& json) {
  if (socket_) socket_->Send(json);
}

void RoomClient::OnFrame(std::string_view text) {
  Json frame = Json::parse(text, nullptr, false);
  if (!frame.is_object() || !frame.contains("type") || !frame["type"].is_string()) return;
  const std::string type = frame["type"];
  if (type == "welcome") {
    peer_id_ = frame.value("peerId", std::string());
    ice_servers_ = options_.extra_ice_servers.empty()
                       ? ParseIceServers(frame.value("iceServers", Json::array()))
                       : options_.extra_ice_servers;
    if (handlers_.on_joined) handlers_.on_joined(peer_id_);
    for (const Json& p : frame.value("peers", Json::array())) {
      if (!p.is_object()) continue;
      const std::string id = p.value("peerId", std::string());
      if (id.empty() || id == peer_id_ || peers_.contains(id)) continue;
      AddPeer(id, p.value("identity", id), /*initiate=*/true);
    }
  } else if (type == "peer-joined") {
    const Json& p = frame.value("peer", Json::object());
    const std::string id = p.value("peerId", std::string());
    if (id.empty() || id == peer_id_ || peers_.contains(id)) return;
    AddPeer(id, p.value("identity", id), /*initiate=*/false);
  } else if (type == "peer-left") {
    RemovePeer(frame.value("peerId", std::string()));
  } else if (type == "offer" || type == "answer" || type == "candidate") {
    const std::string from = frame.value("from", std::string());
    auto it = peers_.find(from);
    if (it == peers_.end()) {
      if (type != "offer" || from.empty()) return;
      AddPeer(from, from, /*initiate=*/false);
      it = peers_.find(from);
    }
    RemotePeer& peer = *it->second;
    if (type == "candidate") {
      const Json& c = frame.value("candidate", Json());
      if (c.is_null()) return HandleCandidate(peer, std::nullopt);
      if (!c.is_object()) return;
      IceCandidate candidate;
      candidate.candidate = c.value("candidate", std::string());
      if (c.contains("sdpMid") && c["sdpMid"].is_string()) candidate.sdp_mid = c["sdpMid"].get<std::string>();
      if (c.contains("sdpMLineIndex") && c["sdpMLineIndex"].is_number_unsigned()) {
        candidate.sdp_mline_index = c["sdpMLineIndex"].get<uint16_t>();
      }
      if (c.contains("usernameFragment") && c["usernameFragment"].is_string()) {
        candidate.username_fragment = c["usernameFragment"].get<std::string>();
      }
      HandleCandidate(peer, candidate);
    } else if (frame.contains("sdp") && frame["sdp"].is_string()) {
      HandleDescription(peer, type == "offer" ? SdpType::kOffer : SdpType::kAnswer, frame["sdp"]);
    }
  } else if (type == "message") {
    const Json& data = frame.value("data", Json());
    if (data.is_object() && data.contains("__tandem") && data["__tandem"].is_object() &&
        data["__tandem"].value("reset", false)) {
      // The remote starts over with a new connection and will offer (SDK _reset()).
      const std::string from = frame.value("from", std::string());
      auto it = peers_.find(from);
      if (it == peers_.end()) return;
      const std::string identity = it->second->identity_;
      RemovePeer(from);
      AddPeer(from, identity, /*initiate=*/false);
    }
  } else if (type == "error") {
    Fail(frame.value("code", std::string("error")), frame.value("message", std::string()), false);
  }
}

RemotePeer& RoomClient::AddPeer(const std::string& id, const std::string& identity, bool initiate) {
  auto owned = std::make_unique<RemotePeer>();
  RemotePeer& peer = *owned;
  peer.id_ = id;
  peer.identity_ = identity;
  // SDK: the peer with the smaller id is polite.
  peer.polite_ = peer_id_ < id;
  RtcConfiguration config;
  config.ice_servers = ice_servers_;
  config.ice_transport_policy = options_.relay_only ? IceTransportPolicy::kRelay : IceTransportPolicy::kAll;
  config.runtime = runtime_;
  config.host_addresses = options_.host_addresses;
  config.max_message_size = options_.max_message_size;
  config.simulated_media_loss = options_.simulated_media_loss;
  config.verify_turns_certificates = options_.verify_tls;
  peer.pc_ = std::make_unique<PeerConnection>(config);
  PeerConnection& pc = *peer.pc_;
  RemotePeer* p = &peer;
  pc.OnNegotiationNeeded([this, p] {
    p->making_offer_ = true;
    try {
      p->pc_->SetLocalDescription();
      auto local = p->pc_->LocalDescription();
      if (local) {
        Signal(Json{{"type", ToString(local->type)}, {"to", p->id_}, {"sdp", local->sdp}}.dump());
      }
    } catch (const RtcError& e) {
      Fail("negotiation", std::string("could not create an offer: ") + e.what(), false);
    }
    p->making_offer_ = false;
  });
  pc.OnIceCandidate([this, p](const std::optional<IceCandidate>& c) {
    Json candidate = nullptr;
    if (c) {
      candidate = Json{{"candidate", c->candidate}};
      if (c->sdp_mid) candidate["sdpMid"] = *c->sdp_mid;
      if (c->sdp_mline_index) candidate["sdpMLineIndex"] = *c->sdp_mline_index;
      if (c->username_fragment) candidate["usernameFragment"] = *c->username_fragment;
    }
    Signal(Json{{"type", "candidate"}, {"to", p->id_}, {"candidate", candidate}}.dump());
  });
  pc.OnDataChannel([this, p](std::shared_ptr<DataChannel> channel) {
    if (handlers_.on_channel) handlers_.on_channel(*p, std::move(channel), false);
  });
  pc.OnTrack([this, p](const TrackEvent& e) {
    if (handlers_.on_track) handlers_.on_track(*p, e);
  });
  pc.OnConnectionStateChange([this, p](PeerConnectionState state) {
    if (handlers_.on_connection_state) handlers_.on_connection_state(*p, state);
  });
  pc.OnIceConnectionStateChange([p](IceConnectionState state) {
    // SDK: restart ICE when it fails (the offerer's restart renegotiates; the other side follows).
    if (state == IceConnectionState::kFailed && p->ice_restarts_ < 5) {
      ++p->ice_restarts_;
      p->pc_->RestartIce();
    } else if (state == IceConnectionState::kConnected || state == IceConnectionState::kCompleted) {
      p->ice_restarts_ = 0;
    }
  });
  peers_[id] = std::move(owned);
  if (handlers_.on_peer_joined) handlers_.on_peer_joined(peer);
  // SDK: the newcomer sets up at once and offers; the others wait for its offer (they set up when answering).
  if (initiate) SetUpLocal(peer);
  return peer;
}

void RoomClient::SetUpLocal(RemotePeer& peer) {
  if (peer.local_set_up_) return;
  peer.local_set_up_ = true;
  for (size_t i = 0; i < options_.channels.size(); ++i) {
    DataChannelInit init = options_.channels[i].init;
    init.negotiated = true;
    init.id = static_cast<uint16_t>(kNegotiatedIdBase + i);
    try {
      auto channel = peer.pc_->CreateDataChannel(options_.channels[i].label, init);
      peer.channels_[options_.channels[i].label] = channel;
      if (handlers_.on_channel) handlers_.on_channel(peer, channel, true);
    } catch (const RtcError& e) {
      Fail("datachannel",
           std::string("cannot create channel ") + options_.channels[i].label + ": " + e.what(), false);
    }
  }
  if (handlers_.on_local_setup) {
    try {
      handlers_.on_local_setup(peer);
    } catch (const RtcError& e) {
      Fail("media", std::string("cannot add local media: ") + e.what(), false);
    }
  }
}

// W3C webrtc-pc §10.1 perfect negotiation, as the SDK does it.
void RoomClient::HandleDescription(RemotePeer& peer, SdpType type, const std::string& sdp) {
  PeerConnection& pc = *peer.pc_;
  const bool ready_for_offer = !peer.making_offer_ && pc.signaling_state() == SignalingState::kStable;
  const bool collision = type == SdpType::kOffer && !ready_for_offer;
  peer.ignore_offer_ = !peer.polite_ && collision;
  if (peer.ignore_offer_) return;
  if (type == SdpType::kAnswer && pc.signaling_state() != SignalingState::kHaveLocalOffer) return;
  try {
    pc.SetRemoteDescription(SessionDescription{type, sdp});
    if (type == SdpType::kOffer) {
      SetUpLocal(peer);
      pc.SetLocalDescription();
      if (auto local = pc.LocalDescription()) {
        Signal(Json{{"type", "answer"}, {"to", peer.id_}, {"sdp", local->sdp}}.dump());
      }
    }
  } catch (const RtcError& e) {
    Fail("negotiation", std::string("signaling from this peer could not be applied: ") + e.what(), false);
  }
}

void RoomClient::HandleCandidate(RemotePeer& peer, const std::optional<IceCandidate>& candidate) {
  try {
    peer.pc_->AddIceCandidate(candidate);
  } catch (const RtcError& e) {
    // Candidates for an offer we ignored, or before any description, are expected (SDK).
    if (!peer.ignore_offer_ && peer.pc_->RemoteDescription() && candidate && !candidate->candidate.empty()) {
      Fail("negotiation", std::string("bad candidate: ") + e.what(), false);
    }
  }
}

void RoomClient::RemovePeer(const std::string& id) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  std::unique_ptr<RemotePeer> peer = std::move(it->second);
  peers_.erase(it);
  const std::string identity = peer->identity_;
  peer->pc_->Close();
  // Not freed here: this may run inside one of the peer's own callbacks.
  graveyard_.push_back(std::move(peer));
  Post([this] { graveyard_.clear(); });
  if (handlers_.on_peer_left) handlers_.on_peer_left(id, identity);
}

void RoomClient::Leave() {
  std::promise<void> done;
  auto future = done.get_future();
  auto leave = [this, &done] {
    if (!left_) {
      left_ = true;
      for (auto& [id, peer] : peers_) peer->pc_->Close();
      for (auto& [id, peer] : peers_) graveyard_.push_back(std::move(peer));
      peers_.clear();
      if (socket_) socket_->Close(1000, "leaving");
    }
    done.set_value();
  };
  if (loop().IsLoopThread()) {
    leave();
  } else {
    Post(leave);
    future.wait();
  }
}

}  // namespace tandem::client

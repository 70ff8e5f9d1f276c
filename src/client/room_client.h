// RoomClient: a native participant in a Tandem room, speaking exactly the protocol of the browser SDK
// (web/sdk/tandem.js, docs/signaling.md): it gets a token, opens the signaling socket, and keeps one
// PeerConnection per remote peer with perfect negotiation (W3C webrtc-pc §10.1), trickle ICE and the room's
// negotiated data channels (ids from 1000 up, in the order given, like the SDK's `dataChannels` option).
//
// Threading: everything — signaling, the peer connections of the room (they share the client's Runtime, one
// thread) and every handler — runs on the client's loop thread. Start() and Leave() may be called from any
// thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tandem/peer_connection.h"

namespace tandem::net {
class EventLoop;
class WebSocketClient;
}  // namespace tandem::net

namespace tandem::client {

// One channel of the room, created with every remote peer (negotiated: both sides use the same id).
struct ChannelSpec {
  std::string label;
  DataChannelInit init;  // negotiated/id are set by the client
};

struct RoomOptions {
  std::string server;  // base URL, e.g. http://127.0.0.1:8080 (as `tandem serve` prints it)
  std::string room;
  std::string identity;  // "native-<random>" when empty
  std::string token;     // use this token instead of asking POST /api/token
  std::string api_key;   // for POST /api/token in production mode
  bool relay_only = false;
  std::vector<IceServer> extra_ice_servers;  // used instead of the server's when not empty
  std::vector<ChannelSpec> channels = {{"chat", {}}, {"file", {}}};
  bool verify_tls = true;
  // Beyond what the SDK offers: the local addresses to gather on (all when empty).
  std::vector<std::string> host_addresses;
  size_t max_message_size = 256 * 1024;
  // RtcConfiguration::simulated_media_loss (testing loss recovery).
  double simulated_media_loss = 0;
};

// A remote peer of the room and our connection to it.
class RemotePeer {
 public:
  const std::string& id() const { return id_; }
  const std::string& identity() const { return identity_; }
  PeerConnection& connection() { return *pc_; }
  // The room channel with this label, once created (open or not).
  std::shared_ptr<DataChannel> channel(const std::string& label) const;

 private:
  friend class RoomClient;
  std::string id_;
  std::string identity_;
  std::unique_ptr<PeerConnection> pc_;
  std::map<std::string, std::shared_ptr<DataChannel>> channels_;
  bool polite_ = false;
  bool making_offer_ = false;
  bool ignore_offer_ = false;
  bool local_set_up_ = false;
  int ice_restarts_ = 0;
};

class RoomClient {
 public:
  struct Handlers {
    std::function<void(const std::string& peer_id)> on_joined;
    std::function<void(RemotePeer&)> on_peer_joined;
    std::function<void(const std::string& peer_id, const std::string& identity)> on_peer_left;
    // A data channel of a peer: a room channel (`local` true) or one the peer opened in-band.
    std::function<void(RemotePeer&, std::shared_ptr<DataChannel>, bool local)> on_channel;
    std::function<void(RemotePeer&, PeerConnectionState)> on_connection_state;
    // Our side of a connection is being set up (before our offer, or before our answer to theirs): the place
    // to AddTrack, so that the tracks are in that very offer or answer (addTrack then reuses the
    // transceivers of their offer).
    std::function<void(RemotePeer&)> on_local_setup;
    // A remote track arrived (W3C "track" event).
    std::function<void(RemotePeer&, const TrackEvent&)> on_track;
    // A signaling or negotiation problem; `fatal` ends the session (closed socket, refused token...).
    std::function<void(const std::string& code, const std::string& message, bool fatal)> on_error;
  };

  RoomClient(RoomOptions options, Handlers handlers);
  ~RoomClient();  // leaves
  RoomClient(const RoomClient&) = delete;
  RoomClient& operator=(const RoomClient&) = delete;

  // Fetches a token (unless given), opens the socket, joins. Returns at once; progress comes as handlers.
  void Start();
  // Closes every connection and the socket. Idempotent.
  void Leave();
  // Runs `fn` on the client's loop thread.
  void Post(std::function<void()> fn);
  net::EventLoop& loop();
  const std::string& peer_id() const { return peer_id_; }
  std::map<std::string, std::unique_ptr<RemotePeer>>& peers() { return peers_; }

 private:
  void Fail(const std::string& code, const std::string& message, bool fatal);
  void OpenSocket();
  void OnFrame(std::string_view text);
  RemotePeer& AddPeer(const std::string& id, const std::string& identity, bool initiate);
  void SetUpLocal(RemotePeer& peer);
  void HandleDescription(RemotePeer& peer, SdpType type, const std::string& sdp);
  void HandleCandidate(RemotePeer& peer, const std::optional<IceCandidate>& candidate);
  void Signal(const std::string& json);
  void RemovePeer(const std::string& id);

  RoomOptions options_;
  Handlers handlers_;
  std::shared_ptr<Runtime> runtime_;
  std::unique_ptr<net::WebSocketClient> socket_;
  std::string peer_id_;
  std::vector<IceServer> ice_servers_;
  std::map<std::string, std::unique_ptr<RemotePeer>> peers_;
  std::vector<std::unique_ptr<RemotePeer>> graveyard_;  // closed peers, freed outside their own callbacks
  bool left_ = false;
};

}  // namespace tandem::client

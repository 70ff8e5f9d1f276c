// `tandem peer`: a native participant in a Tandem room (the browser SDK's protocol), for files, chat and
// tests.
//
//   tandem peer send FILE --server URL --room NAME     send FILE to the first peer whose "file" channel opens
//   tandem peer recv --server URL --room NAME --out F  receive one file into F
//   tandem peer chat --server URL --room NAME          stdin lines out, chat messages in
//   tandem peer echo --server URL --room NAME          echo every message on every channel (a test peer)
//   tandem peer call --server URL --room NAME [--send-video testsrc|FILE.ivf] [--send-audio tone|FILE.ogg]
//                    [--record DIR] [--duration S]      a media participant: sends a test pattern/tone or
//                                                       files, records and decodes what arrives; prints one
//                                                       JSON line per received track at the end
//
// The file and chat formats are the demo page's (web/app.js): on the "file" channel
// {"type":"file-start",...}, binary chunks, {"type":"file-end","sha256"}, answered by
// {"type":"file-ack","ok"}; on "chat" {"type":"chat", "text","ts"}. Everything runs on the room client's loop
// thread; main() waits for the outcome.
#include <openssl/evp.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "client/room_client.h"
#include "commands.h"
#include "core/crypto.h"
#include "core/log.h"
#include "net/event_loop.h"
#include "options.h"
#include "tandem/media.h"

namespace tandem::cli {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kChunk = 64 * 1024;            // as the demo page
constexpr size_t kHighWater = 4 * 1024 * 1024;  // stop queuing above this bufferedAmount
constexpr size_t kLowWater = 1024 * 1024;       // resume at bufferedamountlow

struct PeerFlags {
  client::RoomOptions room;
  std::string out;
  std::string file;
  std::string log_level = "warning";
  std::string ice_username, ice_credential;
  std::vector<std::string> ice_urls;
  uint64_t timeout_seconds = 300;
  uint64_t duration_seconds = 0;
  // call
  std::string send_video;  // "", "testsrc" or an IVF file
  std::string send_audio;  // "", "tone" or an Ogg Opus file
  std::string video_size = "640x480";
  std::string record_dir;
  bool insecure = false;
  bool quiet = false;
};

std::string FormatBytes(double n) {
  char buf[64];
  if (n < 1024) {
    std::snprintf(buf, sizeof buf, "%.0f B", n);
  } else if (n < 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", n / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB", n / (1024 * 1024));
  }
  return buf;
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  void Update(ByteSpan data) { EVP_DigestUpdate(ctx_, data.data(), data.size()); }
  std::string HexDigest() {
    uint8_t out[32];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx_, out, &len);
    std::string hex = crypto::HexEncode(ByteSpan(out, len));
    for (char& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return hex;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// "host ↔ relay" from the selected candidate pair, as the demo's stats panel shows it.
std::string PairType(PeerConnection& pc) {
  StatsReport report = pc.GetStats();
  if (log::Enabled(log::Level::kDebug)) std::fprintf(stderr, "stats: %s\n", report.ToJson().c_str());
  const RtcStats* pair = report.SelectedCandidatePair();
  if (!pair) return "none";
  auto type_of = [&](const std::string& member) -> std::string {
    auto id = pair->String(member);
    if (!id) return "?";
    auto it = report.stats.find(*id);
    if (it == report.stats.end()) return "?";
    std::string type = it->second.String("candidateType").value_or("?");
    if (auto relay = it->second.String("relayProtocol")) type += "/" + *relay;
    return type;
  };
  const std::string local = type_of("localCandidateId"), remote = type_of("remoteCandidateId");
  return local == remote ? local : local + " <-> " + remote;
}

// The outcome of a session: main() waits for it.
struct Outcome {
  std::promise<int> promise;
  std::atomic<bool> set{false};
  void Finish(int code) {
    if (!set.exchange(true)) promise.set_value(code);
  }
};

class Progress {
 public:
  explicit Progress(bool quiet) : quiet_(quiet), tty_(isatty(STDERR_FILENO)) {}
  void Update(const char* verb, uint64_t done, uint64_t total, Clock::time_point started) {
    if (quiet_) return;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(tty_ ? 200 : 2000) && done != total) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - started).count();
    std::fprintf(stderr, "%s%s %s of %s (%.0f%%, %s/s)%s", tty_ ? "\r" : "", verb, FormatBytes(done).c_str(),
                 FormatBytes(total).c_str(), total ? 100.0 * done / total : 100.0,
                 FormatBytes(seconds > 0 ? done / seconds : 0).c_str(), tty_ ? "   " : "\n");
    if (tty_ && done == total) std::fprintf(stderr, "\n");
  }

 private:
  bool quiet_, tty_;
  Clock::time_point last_{};
};

void PrintSummary(const char* what, uint64_t bytes, Clock::time_point started, PeerConnection& pc,
                  const std::string& extra) {
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("%s %llu bytes in %.2f s (%s/s, %.1f Mbit/s) over %s%s\n", what,
              static_cast<unsigned long long>(bytes), seconds,
              FormatBytes(seconds > 0 ? bytes / seconds : 0).c_str(),
              seconds > 0 ? bytes * 8 / seconds / 1e6 : 0.0, PairType(pc).c_str(), extra.c_str());
  std::fflush(stdout);
}

// --- send
// -------------------------------------------------------------------------------------------------------

class Sender {
 public:
  Sender(PeerFlags& flags, Outcome& outcome) : flags_(flags), outcome_(outcome), progress_(flags.quiet) {}

  bool Open() {
    input_.open(flags_.file, std::ios::binary);
    if (!input_) return false;
    input_.seekg(0, std::ios::end);
    size_ = static_cast<uint64_t>(input_.tellg());
    input_.seekg(0);
    // The SHA-256 goes in file-end; computing it first keeps the transfer itself a pure send loop.
    Sha256 sha;
    std::vector<uint8_t> buffer(1 << 20);
    while (input_) {
      input_.read(reinterpret_cast<char*>(buffer.data()), static_cast<std::streamsize>(buffer.size()));
      sha.Update(ByteSpan(buffer.data(), static_cast<size_t>(input_.gcount())));
    }
    sha256_ = sha.HexDigest();
    input_.clear();
    input_.seekg(0);
    return true;
  }

  void OnChannel(client::RemotePeer& peer, std::shared_ptr<DataChannel> channel) {
    if (channel->label() != "file" || channel_) return;
    auto start = [this, &peer, channel] {
      if (channel_) return;
      channel_ = channel;
      peer_ = &peer;
      Start();
    };
    channel->OnMessage([this](const DataChannelMessage& m) { OnMessage(m); });
    channel->OnOpen(start);
    if (channel->ready_state() == DataChannelState::kOpen) start();
  }

 private:
  void Start() {
    uint8_t id_bytes[8];
    crypto::SecureRandomBytes(id_bytes);
    id_ = crypto::HexEncode(id_bytes);
    const std::string name = flags_.file.substr(flags_.file.find_last_of('/') + 1);
    std::fprintf(stderr, "sending %s (%s) to %s\n", name.c_str(), FormatBytes(size_).c_str(),
                 peer_->identity().c_str());
    started_ = Clock::now();
    channel_->set_buffered_amount_low_threshold(kLowWater);
    channel_->OnBufferedAmountLow([this] { Pump(); });
    channel_->OnClose([this] {
      if (!acked_) Fail("the file channel closed before the receiver confirmed");
    });
    channel_->Send(Json{{"type", "file-start"},
                        {"id", id_},
                        {"name", name},
                        {"size", size_},
                        {"mime", "application/octet-stream"}}
                       .dump());
    chunk_ = std::min(kChunk, peer_->connection().max_message_size());
    Pump();
  }

  void Pump() {
    if (!channel_ || finished_sending_) return;
    std::vector<uint8_t> buffer(chunk_);
    try {
      while (sent_ < size_ && channel_->buffered_amount() <= kHighWater) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_, size_ - sent_));
        input_.read(reinterpret_cast<char*>(buffer.data()), static_cast<std::streamsize>(n));
        if (static_cast<size_t>(input_.gcount()) != n) return Fail("read error on " + flags_.file);
        channel_->Send(std::span<const uint8_t>(buffer.data(), n));
        sent_ += n;
      }
      progress_.Update("sent", sent_ - std::min<uint64_t>(sent_, channel_->buffered_amount()), size_,
                       started_);
      if (sent_ == size_) {
        finished_sending_ = true;
        channel_->Send(Json{{"type", "file-end"}, {"id", id_}, {"sha256", sha256_}}.dump());
        std::fprintf(stderr, "sent; waiting for the receiver's SHA-256 check\n");
      }
    } catch (const RtcError& e) {
      Fail(std::string("send failed: ") + e.what());
    }
  }

  void OnMessage(const DataChannelMessage& m) {
    if (m.binary) return;
    Json message = Json::parse(m.text(), nullptr, false);
    if (!message.is_object() || message.value("type", "") != "file-ack" || message.value("id", "") != id_)
      return;
    acked_ = true;
    if (message.value("ok", false)) {
      PrintSummary("sent", size_, started_, peer_->connection(), ", SHA-256 verified by the receiver");
      outcome_.Finish(0);
    } else {
      Fail("the receiver computed a different SHA-256 (" + message.value("sha256", std::string("?")) + ")");
    }
  }

  void Fail(const std::string& why) {
    std::fprintf(stderr, "tandem peer send: %s\n", why.c_str());
    outcome_.Finish(1);
  }

  PeerFlags& flags_;
  Outcome& outcome_;
  Progress progress_;
  std::ifstream input_;
  uint64_t size_ = 0;
  uint64_t sent_ = 0;
  size_t chunk_ = kChunk;
  std::string sha256_, id_;
  std::shared_ptr<DataChannel> channel_;
  client::RemotePeer* peer_ = nullptr;
  Clock::time_point started_;
  bool finished_sending_ = false;
  bool acked_ = false;
};

// --- recv
// -------------------------------------------------------------------------------------------------------

class Receiver {
 public:
  Receiver(PeerFlags& flags, Outcome& outcome) : flags_(flags), outcome_(outcome), progress_(flags.quiet) {}

  void OnChannel(client::RemotePeer& peer, std::shared_ptr<DataChannel> channel) {
    if (channel->label() != "file") return;
    std::weak_ptr<DataChannel> weak = channel;
    channel->OnMessage([this, &peer, weak](const DataChannelMessage& m) {
      if (auto c = weak.lock()) OnMessage(peer, *c, m);
    });
  }

 private:
  void OnMessage(client::RemotePeer& peer, DataChannel& channel, const DataChannelMessage& m) {
    if (m.binary) {
      if (!receiving_) return;
      output_.write(reinterpret_cast<const char*>(m.data.data()),
                    static_cast<std::streamsize>(m.data.size()));
      sha_->Update(m.data);
      received_ += m.data.size();
      progress_.Update("received", received_, size_, started_);
      return;
    }
    Json message = Json::parse(m.text(), nullptr, false);
    if (!message.is_object()) return;
    const std::string type = message.value("type", "");
    if (type == "file-start" && !receiving_ && !done_) {
      output_.open(flags_.out, std::ios::binary | std::ios::trunc);
      if (!output_) return Fail("cannot write " + flags_.out);
      receiving_ = true;
      id_ = message.value("id", std::string());
      size_ = message.value("size", uint64_t{0});
      sha_ = std::make_unique<Sha256>();
      started_ = Clock::now();
      std::fprintf(stderr, "receiving %s (%s) from %s into %s\n",
                   message.value("name", std::string("?")).c_str(), FormatBytes(size_).c_str(),
                   peer.identity().c_str(), flags_.out.c_str());
    } else if (type == "file-end" && receiving_ && message.value("id", "") == id_) {
      receiving_ = false;
      done_ = true;
      output_.close();
      const std::string sha = sha_->HexDigest();
      const bool ok = sha == message.value("sha256", std::string()) && received_ == size_;
      try {
        channel.Send(Json{{"type", "file-ack"}, {"id", id_}, {"sha256", sha}, {"ok", ok}}.dump());
      } catch (const RtcError&) {
      }
      if (!ok)
        return Fail("SHA-256 mismatch: got " + sha + ", the sender says " +
                    message.value("sha256", std::string("?")));
      PrintSummary("received", received_, started_, peer.connection(), ", SHA-256 " + sha);
      outcome_.Finish(0);
    }
  }

  void Fail(const std::string& why) {
    std::fprintf(stderr, "tandem peer recv: %s\n", why.c_str());
    outcome_.Finish(1);
  }

  PeerFlags& flags_;
  Outcome& outcome_;
  Progress progress_;
  std::ofstream output_;
  std::unique_ptr<Sha256> sha_;
  std::string id_;
  uint64_t size_ = 0, received_ = 0;
  Clock::time_point started_;
  bool receiving_ = false, done_ = false;
};

// --- chat
// -------------------------------------------------------------------------------------------------------

class Chat {
 public:
  Chat(client::RoomClient& room, Outcome& outcome) : room_(room), outcome_(outcome) {}

  void OnChannel(client::RemotePeer& peer, std::shared_ptr<DataChannel> channel) {
    if (channel->label() != "chat") return;
    const std::string identity = peer.identity();
    channel->OnMessage([identity](const DataChannelMessage& m) {
      Json message = Json::parse(m.text(), nullptr, false);
      if (!message.is_object() || message.value("type", "") != "chat") return;
      std::printf("[%s] %s\n", identity.c_str(), message.value("text", std::string()).c_str());
      std::fflush(stdout);
    });
    channel->OnOpen([this] { Flush(); });
  }

  // Called on the loop thread for each stdin line; nullopt at EOF.
  void Line(std::optional<std::string> line) {
    if (line) {
      queue_.push_back(std::move(*line));
    } else {
      eof_ = true;
    }
    Flush();
  }

  void Flush() {
    std::vector<std::shared_ptr<DataChannel>> open;
    for (auto& [id, peer] : room_.peers()) {
      auto c = peer->channel("chat");
      if (c && c->ready_state() == DataChannelState::kOpen) open.push_back(c);
    }
    if (open.empty()) return;
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    for (const std::string& text : queue_) {
      const std::string frame = Json{{"type", "chat"}, {"text", text}, {"ts", now_ms}}.dump();
      for (auto& c : open) c->Send(frame);
    }
    queue_.clear();
    if (eof_) {
      // Done once the messages are on their way out.
      for (auto& c : open) {
        if (c->buffered_amount() > 0) return;
      }
      outcome_.Finish(0);
    }
  }

 private:
  client::RoomClient& room_;
  Outcome& outcome_;
  std::vector<std::string> queue_;
  bool eof_ = false;
};

// --- echo
// -------------------------------------------------------------------------------------------------------

class Echo {
 public:
  void OnChannel(client::RemotePeer&, std::shared_ptr<DataChannel> channel) {
    std::weak_ptr<DataChannel> weak = channel;
    channel->OnMessage([this, weak](const DataChannelMessage& m) {
      auto c = weak.lock();
      if (!c) return;
      ++messages_;
      bytes_ += m.data.size();
      try {
        if (m.binary) {
          c->Send(std::span<const uint8_t>(m.data));
        } else {
          c->Send(m.text());
        }
      } catch (const RtcError& e) {
        std::fprintf(stderr, "echo on %s failed: %s\n", c->label().c_str(), e.what());
      }
    });
    std::fprintf(stderr, "echoing on channel %s\n", channel->label().c_str());
  }
  uint64_t messages() const { return messages_; }
  uint64_t bytes() const { return bytes_; }

 private:
  uint64_t messages_ = 0, bytes_ = 0;
};

// --- call

// A media participant: one set of local tracks per remote peer, added when our side of that connection is set
// up (so that they are in our offer, or reuse the transceivers of theirs); every remote track decoded (and
// recorded with --record), counted, and summarized at the end.
class Call {
 public:
  explicit Call(const PeerFlags& flags) : flags_(flags) {
    if (std::sscanf(flags.video_size.c_str(), "%dx%d", &width_, &height_) != 2 || width_ < 16 ||
        height_ < 16 || width_ > 3840 || height_ > 2160) {
      throw UsageError("--video-size: expected WIDTHxHEIGHT between 16x16 and 3840x2160");
    }
  }

  void OnLocalSetup(client::RemotePeer& peer) {
    PeerConnection& pc = peer.connection();
    const std::vector<std::string> streams = {"tandem-" + peer.id()};
    if (flags_.send_video == "testsrc") {
      pc.AddTrack(CreateTestPatternTrack({.width = width_, .height = height_, .fps = 30}), streams);
    } else if (!flags_.send_video.empty()) {
      pc.AddTrack(CreateIvfFileTrack(flags_.send_video), streams);
    }
    if (flags_.send_audio == "tone") {
      pc.AddTrack(CreateToneTrack({}), streams);
    } else if (!flags_.send_audio.empty()) {
      pc.AddTrack(CreateOggOpusFileTrack(flags_.send_audio), streams);
    }
  }

  void OnTrack(client::RemotePeer& peer, const TrackEvent& e) {
    auto received = std::make_shared<Received>();
    received->peer = peer.identity();
    received->kind = ToString(e.track->kind());
    received->track = e.track;
    e.track->OnVideoFrame([received](const VideoFrame& f) {
      std::lock_guard lock(received->mutex);
      ++received->frames;
      received->width = f.width;
      received->height = f.height;
    });
    e.track->OnAudioFrame([received](const AudioFrame& f) {
      std::lock_guard lock(received->mutex);
      ++received->frames;
      received->samples += f.samples.size() / std::max(1, f.channels);
      received->sample_rate = f.sample_rate;
    });
    if (!flags_.record_dir.empty()) {
      std::string name = peer.identity() + "-" + received->kind + "-" + std::to_string(tracks_.size());
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
      received->file =
          flags_.record_dir + "/" + name + (e.track->kind() == MediaKind::kVideo ? ".ivf" : ".ogg");
      try {
        e.track->Record(received->file);
      } catch (const RtcError& error) {
        std::fprintf(stderr, "tandem peer call: cannot record %s: %s\n", received->file.c_str(),
                     error.what());
        received->file.clear();
      }
    }
    if (!flags_.quiet)
      std::fprintf(stderr, "receiving %s from %s\n", received->kind.c_str(), peer.identity().c_str());
    std::lock_guard lock(mutex_);
    tracks_.push_back(std::move(received));
  }

  // One JSON line per connection with its RTP counters (W3C stats names), on the room's loop thread.
  static void ReportConnections(client::RoomClient& room) {
    std::promise<void> done;
    room.Post([&] {
      for (auto& [id, peer] : room.peers()) {
        const StatsReport report = peer->connection().GetStats();
        nlohmann::json line = {{"event", "rtp"}, {"peer", peer->identity()}};
        for (const char* type : {"inbound-rtp", "outbound-rtp"}) {
          for (const RtcStats* s : report.OfType(type)) {
            nlohmann::json counters;
            for (const char* name :
                 {"packetsReceived", "packetsLost", "nackCount", "pliCount", "firCount",
                  "retransmittedPacketsReceived", "packetsSent", "retransmittedPacketsSent", "framesDecoded",
                  "framesEncoded", "keyFramesDecoded", "framesDropped"}) {
              if (auto v = s->Number(name)) counters[name] = *v;
            }
            line[type][s->String("kind").value_or("?")] = counters;
          }
        }
        std::printf("%s\n", line.dump().c_str());
      }
      done.set_value();
    });
    done.get_future().wait_for(std::chrono::seconds(10));
  }

  // Finishes the recordings and prints one JSON line per received track.
  void Report() {
    std::lock_guard lock(mutex_);
    for (const auto& r : tracks_) {
      if (!r->file.empty()) r->track->StopRecording();
      const TrackStats stats = r->track->stats();
      std::lock_guard track_lock(r->mutex);
      nlohmann::json line = {{"event", "track"},
                             {"peer", r->peer},
                             {"kind", r->kind},
                             {"framesDecoded", r->frames},
                             {"keyFrames", stats.key_frames},
                             {"bytes", stats.bytes},
                             {"decodeErrors", stats.decode_errors},
                             {"ended", r->track->ended()}};
      if (r->kind == "video") {
        line["width"] = r->width;
        line["height"] = r->height;
      } else {
        line["samples"] = r->samples;
        line["sampleRate"] = r->sample_rate;
      }
      if (!r->file.empty()) line["file"] = r->file;
      std::printf("%s\n", line.dump().c_str());
    }
  }

 private:
  struct Received {
    std::string peer, kind, file;
    std::shared_ptr<MediaStreamTrack> track;
    std::mutex mutex;
    uint64_t frames = 0, samples = 0;
    int width = 0, height = 0, sample_rate = 0;
  };
  const PeerFlags& flags_;
  int width_ = 0, height_ = 0;
  std::mutex mutex_;
  std::vector<std::shared_ptr<Received>> tracks_;
};

}  // namespace

int RunPeerCommand(const std::vector<std::string>& all_args) {
  static const char* kUsage =
      "tandem peer send FILE | recv --out FILE | chat | echo | call  --server URL --room NAME [options]";
  if (all_args.empty() || all_args[0] == "--help" || all_args[0] == "-h") {
    std::printf("Usage: %s\n", kUsage);
    if (all_args.empty()) return 2;
  }
  PeerFlags flags;
  flags.room.server = "http://127.0.0.1:8080";
  std::string mode = all_args.empty() ? "" : all_args[0];
  std::vector<std::string> args;
  for (size_t i = 1; i < all_args.size(); ++i) {
    if (mode == "send" && flags.file.empty() && all_args[i].rfind("--", 0) != 0) {
      flags.file = all_args[i];
      continue;
    }
    args.push_back(all_args[i]);
  }
  OptionParser parser("peer " + mode, "a native participant in a Tandem room");
  parser.String("server", "URL",
                "the server's base URL, as `tandem serve` prints it (default http://127.0.0.1:8080)",
                &flags.room.server);
  parser.String("room", "NAME", "room to join (required)", &flags.room.room);
  parser.String("identity", "NAME", "identity shown to others (default native-<random>)",
                &flags.room.identity);
  parser.String("token", "JWT", "room token (default: ask POST /api/token)", &flags.room.token);
  parser.String("api-key", "KEY", "API key for POST /api/token (production servers)", &flags.room.api_key);
  parser.String("out", "FILE", "recv: where to write the file", &flags.out);
  parser.Flag("relay-only", "use only relayed candidates (iceTransportPolicy relay)", &flags.room.relay_only);
  parser.Add({"ice-server", "URL", "stun:/turn:/turns: URL to use instead of the server's (repeatable)",
              [&flags](const std::string& v) { flags.ice_urls.push_back(v); }});
  parser.String("ice-username", "NAME", "username for the --ice-server TURN URLs", &flags.ice_username);
  parser.String("ice-credential", "PASS", "credential for the --ice-server TURN URLs", &flags.ice_credential);
  parser.Add({"host-address", "IP", "gather host candidates on this address only (repeatable)",
              [&flags](const std::string& v) { flags.room.host_addresses.push_back(v); }});
  parser.Add({"timeout", "SECONDS", "give up after this long (default 300)", [&flags](const std::string& v) {
                flags.timeout_seconds = ParseUnsigned("timeout", v, 86400);
              }});
  parser.Add(
      {"duration", "SECONDS", "echo/chat/call: leave after this long (default: until done or interrupted)",
       [&flags](const std::string& v) { flags.duration_seconds = ParseUnsigned("duration", v, 86400); }});
  parser.Add({"max-message-size", "BYTES", "largest data channel message accepted (default 262144)",
              [&flags](const std::string& v) {
                flags.room.max_message_size = ParseUnsigned("max-message-size", v, 1 << 30);
              }});
  parser.String("send-video", "testsrc|FILE.ivf", "call: send a test pattern or a VP8 IVF file",
                &flags.send_video);
  parser.String("send-audio", "tone|FILE.ogg", "call: send a tone or an Ogg Opus file", &flags.send_audio);
  parser.String("video-size", "WxH", "call: test pattern size (default 640x480)", &flags.video_size);
  parser.Add({"simulate-loss", "PERCENT",
              "call: drop this share of RTP/RTCP packets both ways (loss recovery tests)",
              [&flags](const std::string& v) {
                flags.room.simulated_media_loss =
                    static_cast<double>(ParseUnsigned("simulate-loss", v, 50)) / 100;
              }});
  parser.String("record", "DIR", "call: record every received track into DIR (IVF / Ogg)", &flags.record_dir);
  parser.Flag("insecure", "do not verify TLS certificates (self-signed development servers)",
              &flags.insecure);
  parser.Flag("quiet", "no progress output", &flags.quiet);
  parser.String("log-level", "LEVEL", "trace, debug, info, warning (default), error", &flags.log_level);
  if (!parser.Parse(args)) return 0;
  if (mode != "send" && mode != "recv" && mode != "chat" && mode != "echo" && mode != "call") {
    throw UsageError("expected send, recv, chat, echo or call: " + std::string(kUsage));
  }
  if (flags.room.room.empty()) throw UsageError("--room is required");
  if (mode == "send" && flags.file.empty()) throw UsageError("send needs a FILE");
  if (mode == "recv" && flags.out.empty()) throw UsageError("recv needs --out FILE");
  auto level = log::ParseLevel(flags.log_level);
  if (!level) throw UsageError("--log-level: unknown level " + flags.log_level);
  log::SetLevel(*level);
  flags.room.verify_tls = !flags.insecure;
  if (!flags.ice_urls.empty()) {
    IceServer server;
    server.urls = flags.ice_urls;
    server.username = flags.ice_username;
    server.credential = flags.ice_credential;
    flags.room.extra_ice_servers.push_back(std::move(server));
  }

  Outcome outcome;
  auto result = outcome.promise.get_future();
  std::unique_ptr<Sender> sender;
  std::unique_ptr<Receiver> receiver;
  std::unique_ptr<Chat> chat;
  Echo echo;
  std::unique_ptr<Call> call;
  if (mode == "call") call = std::make_unique<Call>(flags);
  if (mode == "send") {
    sender = std::make_unique<Sender>(flags, outcome);
    if (!sender->Open()) {
      std::fprintf(stderr, "tandem peer send: cannot read %s\n", flags.file.c_str());
      return 1;
    }
  } else if (mode == "recv") {
    receiver = std::make_unique<Receiver>(flags, outcome);
  }
  // Echo and chat want every channel kind the page might open; the room's own channels are the SDK's.
  client::RoomClient::Handlers handlers;
  handlers.on_joined = [&](const std::string& id) {
    if (!flags.quiet) std::fprintf(stderr, "joined room %s as %s\n", flags.room.room.c_str(), id.c_str());
  };
  handlers.on_peer_joined = [&](client::RemotePeer& peer) {
    if (!flags.quiet)
      std::fprintf(stderr, "peer %s (%s) is here\n", peer.identity().c_str(), peer.id().c_str());
  };
  handlers.on_peer_left = [&](const std::string&, const std::string& identity) {
    if (!flags.quiet) std::fprintf(stderr, "peer %s left\n", identity.c_str());
  };
  handlers.on_channel = [&](client::RemotePeer& peer, std::shared_ptr<DataChannel> channel, bool) {
    if (sender) sender->OnChannel(peer, channel);
    if (receiver) receiver->OnChannel(peer, channel);
    if (chat) chat->OnChannel(peer, channel);
    if (mode == "echo") echo.OnChannel(peer, channel);
  };
  handlers.on_local_setup = [&](client::RemotePeer& peer) {
    if (call) call->OnLocalSetup(peer);
  };
  handlers.on_track = [&](client::RemotePeer& peer, const TrackEvent& e) {
    if (call) call->OnTrack(peer, e);
  };
  handlers.on_connection_state = [&](client::RemotePeer& peer, PeerConnectionState state) {
    if (!flags.quiet)
      std::fprintf(stderr, "connection to %s: %s\n", peer.identity().c_str(), ToString(state));
  };
  handlers.on_error = [&](const std::string& code, const std::string& message, bool fatal) {
    std::fprintf(stderr, "tandem peer: %s: %s\n", code.c_str(), message.c_str());
    if (fatal) outcome.Finish(1);
  };
  // An echo bot runs until it is told to stop: that is its normal end.
  StartSignalWatcher([&] { outcome.Finish(mode == "echo" || mode == "call" ? 0 : 130); });
  client::RoomClient room(flags.room, std::move(handlers));
  if (mode == "chat") chat = std::make_unique<Chat>(room, outcome);
  room.Start();

  std::thread stdin_reader;
  if (chat) {
    stdin_reader = std::thread([&] {
      std::string line;
      while (std::getline(std::cin, line)) room.Post([&, line] { chat->Line(line); });
      room.Post([&] { chat->Line(std::nullopt); });
    });
    stdin_reader.detach();
  }
  const uint64_t limit = flags.duration_seconds ? flags.duration_seconds : flags.timeout_seconds;
  int code = 0;
  if (result.wait_for(std::chrono::seconds(limit)) == std::future_status::ready) {
    code = result.get();
  } else if (flags.duration_seconds) {
    code = 0;  // ran for the requested time
  } else {
    std::fprintf(stderr, "tandem peer %s: timed out after %llu s\n", mode.c_str(),
                 static_cast<unsigned long long>(limit));
    code = 1;
  }
  if (call) {
    Call::ReportConnections(room);
    call->Report();
  }
  if (mode == "echo") {
    std::printf("echoed %llu messages, %llu bytes\n", static_cast<unsigned long long>(echo.messages()),
                static_cast<unsigned long long>(echo.bytes()));
  }
  // The last frames we sent (a file-ack, chat lines) are queued in SCTP; leaving at once would abort the
  // association before they are acknowledged. A short linger lets them arrive.
  if (code == 0 && (receiver || chat)) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  room.Leave();
  StopSignalWatcher();
  std::fflush(stdout);
  return code;
}

}  // namespace tandem::cli

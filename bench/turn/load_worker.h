// The load workers of turn_load. Each worker owns a disjoint set of sockets (and, for TURN, allocations) and runs
// one epoll loop on its own thread: no locks, no shared mutable state except the single-writer counters that the
// coordinating thread reads.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/turn/load_util.h"
#include "core/socket_address.h"
#include "stun/message.h"

namespace tandem::bench {

enum class Mode { kRelay, kBinding };

struct Config {
  Mode mode = Mode::kRelay;
  SocketAddress server;
  IpAddress local_ip;           // where the tool's client and peer sockets bind
  std::string user = "u";
  std::string password = "p";
  std::string secret;           // non-empty: TURN REST (time-limited) credentials instead of user/password
  uint32_t allocations = 100;
  uint32_t peers = 32;
  std::vector<double> rates{10000};  // per direction (relay) or requests/s (binding, 0 = closed loop)
  uint32_t size = 200;          // relay payload bytes (after the 4-byte ChannelData header)
  double duration_s = 5;
  double warmup_s = 1;
  double drain_s = 0.3;
  bool c2p = true;
  bool p2c = true;
  uint32_t threads = 1;
  uint32_t setup_window = 256;  // allocations being set up at once (per tool, split over threads)
  double setup_timeout_s = 30;
  uint32_t sockets = 8;         // binding
  uint32_t window = 16;         // binding closed loop: outstanding requests per socket
  int64_t slice_ns = 1'000'000;
  double hold_s = 0;
  double stop_loss_pct = 0;     // stop stepping after a step loses more than this (0 = never)
  bool dealloc = true;
  bool reuse_nonce = false;     // relay: start allocations with the REALM/NONCE another one got (see --reuse-nonce)
  bool gso = false;             // relay: send runs of datagrams to one destination with UDP GSO (see --gso)
  int rcvbuf = 4 << 20;
  int64_t timeout_ns = 200'000'000;  // binding closed loop: a request unanswered this long is lost
  bool quiet = false;
};

// What set-up and tear-down did, per worker (merged by the coordinator).
struct SetupStats {
  uint32_t ready = 0;
  uint32_t failed = 0;
  uint64_t requests = 0;
  uint64_t retransmits = 0;
  uint64_t stale_nonces = 0;
  uint64_t integrity_failures = 0;
  uint64_t reopened = 0;  // client sockets replaced after 437 Allocation Mismatch
  uint32_t released = 0;
  std::map<std::string, uint32_t> failures;  // "401", "437"..., "timeout:<stage>", "no-relayed-address"
};

class LoadWorker {
 public:
  virtual ~LoadWorker();

  // Opens the sockets and sets up allocations (relay) until done or `deadline_ns`. False on a fatal error.
  virtual bool Setup(int64_t deadline_ns) = 0;
  // Sends and receives according to `steps` until the end of step `*last_step` (which the coordinator may lower
  // while this runs). Counters are written to counters()[step].
  virtual void Run(const std::vector<Step>& steps, const std::atomic<int>& last_step) = 0;
  // Releases server state (relay: Refresh with LIFETIME 0) and closes the sockets.
  virtual void Teardown(int64_t deadline_ns) = 0;
  // Local ports of every socket of this worker (to tell the tool's own kernel drops from the server's).
  virtual void AppendPorts(std::vector<uint16_t>& out) const = 0;

  std::vector<StepCounters>& counters() { return counters_; }
  const SetupStats& setup_stats() const { return setup_; }
  uint64_t other_packets() const { return other_packets_.Get(); }

 protected:
  LoadWorker(const Config& cfg, size_t steps);
  bool OpenEpoll();
  void Watch(int fd, uint64_t tag);
  // Waits up to `timeout_ns` for readiness; returns the number of events in events_.
  int Wait(int64_t timeout_ns);

  const Config& cfg_;
  std::vector<StepCounters> counters_;
  SetupStats setup_;
  Counter other_packets_;  // unexpected packets (e.g. Data indications instead of ChannelData)
  int epoll_fd_ = -1;
  static constexpr int kMaxEvents = 256;
  epoll_event events_[kMaxEvents];
};

// TURN relay load: one client socket per allocation (the server tells allocations apart by 5-tuple), a pool of peer
// sockets, one channel per allocation bound to one peer socket. Traffic: client → ChannelData → server → peer
// (c2p) and peer → UDP → relayed address → server → ChannelData → client (p2c).
class RelayWorker final : public LoadWorker {
 public:
  // Owns allocations [first_alloc, first_alloc + alloc_count) with `peer_count` peer sockets. Each transaction id
  // starts with `tid_prefix`.
  RelayWorker(const Config& cfg, size_t steps, uint32_t first_alloc, uint32_t alloc_count, uint32_t peer_count,
              uint32_t tid_prefix);
  ~RelayWorker() override;

  bool Setup(int64_t deadline_ns) override;
  void Run(const std::vector<Step>& steps, const std::atomic<int>& last_step) override;
  void Teardown(int64_t deadline_ns) override;
  void AppendPorts(std::vector<uint16_t>& out) const override;

 private:
  enum class State : uint8_t { kIdle, kAllocate, kChannelBind, kReady, kRelease, kReleased, kFailed };
  struct Allocation {
    int fd = -1;
    uint32_t index = 0;  // global allocation index (in payloads and transaction ids)
    uint16_t local_port = 0;
    uint16_t peer = 0;
    uint16_t channel = 0;
    State state = State::kIdle;
    bool authenticated = false;
    bool reused_nonce = false;  // authenticated with a NONCE learnt by another allocation (--reuse-nonce)
    uint8_t stale_count = 0;
    uint8_t attempts = 0;
    uint8_t reopen_count = 0;
    uint32_t generation = 0;
    int64_t retransmit_at_ns = 0;
    int64_t rto_ns = 0;
    SocketAddress relayed;
    sockaddr_storage relayed_ss{};
    socklen_t relayed_len = 0;
    std::string username;
    std::string password;
    std::string realm;
    std::string nonce;
    std::vector<uint8_t> key;
  };
  struct PeerBatch {
    std::vector<mmsghdr> msgs;
    std::vector<iovec> iovs;
    std::vector<uint8_t> arena;     // kBatch datagrams
    std::vector<uint32_t> segments;  // datagrams carried by each message (> 1 with GSO)
    std::vector<uint8_t> ctrl;       // kCtrlSize control bytes per message (UDP_SEGMENT)
    uint32_t count = 0;              // messages
    uint32_t slots = 0;              // datagrams
  };

  // Set-up and tear-down transactions (RFC 8656 §7, §11, §8 with RFC 8489 §9.2 long-term credentials).
  void StartTransaction(Allocation& a, int64_t now);
  void SendRequest(Allocation& a, int64_t now);
  void HandleStun(Allocation& a, ByteSpan bytes, int64_t now);
  bool ReopenSocket(Allocation& a);
  void Fail(Allocation& a, int code);  // code 0: timeout, 1: success without XOR-RELAYED-ADDRESS
  void Finish(Allocation& a);  // leaves the set-up/tear-down window
  void Retransmit(int64_t now);
  bool RunTransactions(int64_t deadline_ns, const std::vector<uint32_t>& order, State start);
  void TakeRealmNonce(Allocation& a, const stun::MessageView& m);

  // Data path.
  void ReceiveClient(Allocation& a, int64_t now, const std::vector<Step>* steps);
  void ReceivePeer(uint32_t peer, int64_t now, const std::vector<Step>* steps);
  void CountPayload(int dir, const uint8_t* p, size_t len, int64_t now, const std::vector<Step>* steps,
                    uint16_t from_port);
  void SendC2p(uint64_t count, int step, bool measure, int64_t now);
  void SendP2c(uint64_t count, int step, bool measure, int64_t now);
  void FlushPeer(uint32_t peer, int step, bool measure);
  uint32_t MaxSegments(size_t datagram_size) const;
  void FillPayload(uint8_t* p, const Allocation& a, int step, bool measure, int dir, int64_t now);

  uint32_t first_alloc_;
  uint32_t tid_prefix_;
  std::vector<Allocation> allocs_;
  std::vector<int> peer_fds_;
  std::vector<SocketAddress> peer_addrs_;
  std::vector<uint32_t> ready_;  // local indices of allocations in kReady
  uint32_t in_flight_ = 0;
  std::vector<uint8_t> scratch_;
  std::vector<uint8_t> static_key_;  // user/password mode: the key for the realm seen first
  std::string static_key_realm_;
  std::string shared_realm_;  // the latest REALM/NONCE seen, for --reuse-nonce
  std::string shared_nonce_;

  // Data-path buffers.
  static constexpr uint32_t kBatch = 64;
  static constexpr size_t kRxSize = 2048;
  std::vector<mmsghdr> rx_msgs_;
  std::vector<iovec> rx_iovs_;
  std::vector<uint8_t> rx_arena_;
  std::vector<sockaddr_storage> rx_names_;
  std::vector<mmsghdr> tx_msgs_;
  std::vector<iovec> tx_iovs_;
  std::vector<uint8_t> tx_arena_;
  std::vector<uint8_t> gso_ctrl_;
  static constexpr size_t kCtrlSize = CMSG_SPACE(sizeof(uint16_t));
  std::vector<PeerBatch> peer_batches_;
  uint32_t c2p_cursor_ = 0;
  uint32_t p2c_cursor_ = 0;
  uint64_t seq_ = 0;
};

// STUN Binding load: K connected sockets, either a closed loop with `window` outstanding requests per socket (the
// server's maximum answered rate) or an open loop paced at a fixed rate.
class BindingWorker final : public LoadWorker {
 public:
  BindingWorker(const Config& cfg, size_t steps, uint32_t first_socket, uint32_t socket_count, uint32_t tid_prefix);
  ~BindingWorker() override;

  bool Setup(int64_t deadline_ns) override;
  void Run(const std::vector<Step>& steps, const std::atomic<int>& last_step) override;
  void Teardown(int64_t deadline_ns) override;
  void AppendPorts(std::vector<uint16_t>& out) const override;

 private:
  struct Slot {
    uint32_t generation = 0;
    int16_t step = -1;
    bool measure = false;
    bool pending = false;
    int64_t sent_ns = 0;
  };
  struct Sock {
    int fd = -1;
    SocketAddress local;
    std::vector<Slot> slots;  // [0, window) closed loop; [window, window + kOpenRing) open loop by sequence
    std::vector<uint32_t> to_send;
    uint32_t open_seq = 0;
  };
  static constexpr uint32_t kOpenRing = 8192;
  static constexpr uint32_t kBatch = 64;

  void Receive(uint32_t s, int64_t now, const std::vector<Step>& steps, int active, bool closed_loop);
  void Queue(Sock& sock, uint32_t slot, int step, bool measure, int64_t now);
  void Flush(uint32_t s);
  void SendOpenLoop(uint64_t count, int step, bool measure, int64_t now);

  uint32_t first_socket_;
  uint32_t tid_prefix_;
  std::vector<Sock> socks_;
  std::vector<uint8_t> request_template_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iovs_;
  std::vector<uint8_t> arena_;
  uint32_t open_cursor_ = 0;
};

}  // namespace tandem::bench

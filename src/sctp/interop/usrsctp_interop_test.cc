// Interop with an independent SCTP stack: usrsctp (the SCTP of Firefox and of older libwebrtc), in this
// process, through its AF_CONN interface. usrsctp runs without threads (usrsctp_init_nothreads); this test
// drives its timers with real elapsed time and exchanges packets in memory (usrsctp_conninput / the output
// callback): no sockets. Each case is bounded by a wall-clock deadline of a few seconds. Labelled "interop",
// not "unit".
#include <usrsctp.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "core/rng.h"
#include "sctp/association.h"

namespace tandem::sctp {
namespace {

// Not in usrsctp 0.9.5's public header (values from its netinet/sctp.h).
constexpr int kSctpInterleavingSupported = 0x00001206;
constexpr int kFragLevel2 = 2;

using Clock = std::chrono::steady_clock;

// Deterministic content for message `index`: a pseudo-random pattern (one per index modulo 64, generated
// once) stamped with the index, so payload corruption or mix-ups are caught without costing the test its
// speed.
std::vector<uint8_t> Content(uint32_t index, size_t size) {
  static std::map<std::pair<uint32_t, size_t>, std::vector<uint8_t>> patterns;
  auto& pattern = patterns[{index % 64, size}];
  if (pattern.empty()) {
    pattern.resize(size);
    uint32_t x = (index % 64) * 2654435761u + 7;
    for (size_t i = 0; i < size; ++i) {
      x = x * 1103515245u + 12345u;
      pattern[i] = static_cast<uint8_t>(x >> 16);
    }
  }
  std::vector<uint8_t> p = pattern;
  if (size >= 4) StoreBe32(p.data(), index);
  return p;
}
uint32_t IndexOf(const std::vector<uint8_t>& p) { return LoadBe32(p.data()); }

// One line per packet (chunk types and the numbers that matter), for SCTP_INTEROP_TRACE=1 runs.
std::string Describe(ByteSpan packet) {
  auto v = PacketView::Parse(packet, false);
  if (!v) return "(malformed)";
  std::string out;
  char buf[160];
  for (const ChunkView& c : *v) {
    if (c.type == chunk_type::kData) {
      auto d = DataChunk::Parse(c.raw);
      std::snprintf(buf, sizeof(buf), " DATA(%u s%u ssn%u %s%s%s)", d->tsn, d->stream, d->ssn,
                    d->beginning ? "B" : "", d->end ? "E" : "", d->unordered ? "U" : "");
    } else if (c.type == chunk_type::kSack) {
      auto s = SackChunk::Parse(c.raw);
      std::snprintf(buf, sizeof(buf), " SACK(%u rwnd %u gaps %zu)", s->cumulative_tsn_ack, s->a_rwnd,
                    s->gap_blocks.size());
    } else if (c.type == chunk_type::kForwardTsn) {
      auto f = ForwardTsnChunk::Parse(c.raw);
      std::snprintf(buf, sizeof(buf), " FWD-TSN(%u, %zu streams)", f->new_cumulative_tsn, f->skipped.size());
    } else {
      std::snprintf(buf, sizeof(buf), " %s", ChunkTypeName(c.type));
    }
    out += buf;
  }
  return out;
}
bool Tracing() {
  static const bool on = std::getenv("SCTP_INTEROP_TRACE") != nullptr;
  return on;
}

struct Received {
  uint16_t stream = 0;
  uint32_t ppid = 0;
  bool unordered = false;
  std::vector<uint8_t> payload;
};

// One usrsctp socket (side "u") wired to one tandem Association (side "t").
class Bridge {
 public:
  struct Config {
    bool interleaving = false;
    bool usrsctp_connects = true;
    bool tandem_connects = false;
    double loss_u_to_t = 0;  // drop probability per packet
    double loss_t_to_u = 0;
    size_t tandem_max_message = 1 << 20;
  };

  explicit Bridge(const Config& config)
      : config_(config), rng_(42), loss_rng_(7), assoc_(MakeOptions(config), rng_) {
    Live()[addr_] = this;
    usrsctp_register_address(addr_);
    sock_ = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, nullptr, nullptr, 0, nullptr);
    EXPECT_NE(sock_, nullptr);
    usrsctp_set_non_blocking(sock_, 1);
    const int on = 1;
    EXPECT_EQ(usrsctp_setsockopt(sock_, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on)), 0);
    EXPECT_EQ(usrsctp_setsockopt(sock_, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof(on)), 0);
    const int buffer = 4 << 20;
    usrsctp_setsockopt(sock_, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof(buffer));
    usrsctp_setsockopt(sock_, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
    struct sctp_assoc_value reset {};
    reset.assoc_id = SCTP_ALL_ASSOC;
    reset.assoc_value = SCTP_ENABLE_RESET_STREAM_REQ;
    EXPECT_EQ(usrsctp_setsockopt(sock_, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &reset, sizeof(reset)), 0);
    struct sctp_initmsg init {};
    init.sinit_num_ostreams = 1024;
    init.sinit_max_instreams = 1024;
    EXPECT_EQ(usrsctp_setsockopt(sock_, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof(init)), 0);
    for (uint16_t type : {SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT}) {
      struct sctp_event ev {};
      ev.se_assoc_id = SCTP_ALL_ASSOC;
      ev.se_type = type;
      ev.se_on = 1;
      EXPECT_EQ(usrsctp_setsockopt(sock_, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof(ev)), 0);
    }
    if (config.interleaving) {
      const int level = kFragLevel2;
      EXPECT_EQ(usrsctp_setsockopt(sock_, IPPROTO_SCTP, SCTP_FRAGMENT_INTERLEAVE, &level, sizeof(level)), 0);
      struct sctp_assoc_value idata {};
      idata.assoc_id = SCTP_FUTURE_ASSOC;
      idata.assoc_value = 1;
      EXPECT_EQ(usrsctp_setsockopt(sock_, IPPROTO_SCTP, kSctpInterleavingSupported, &idata, sizeof(idata)),
                0);
    }
    struct sockaddr_conn local = Address();
    EXPECT_EQ(usrsctp_bind(sock_, reinterpret_cast<sockaddr*>(&local), sizeof(local)), 0);
    if (config.usrsctp_connects) {
      struct sockaddr_conn remote = Address();
      const int rc = usrsctp_connect(sock_, reinterpret_cast<sockaddr*>(&remote), sizeof(remote));
      EXPECT_TRUE(rc == 0 || errno == EINPROGRESS) << errno;
      conn_ = sock_;
    } else {
      EXPECT_EQ(usrsctp_listen(sock_, 1), 0);
    }
    if (config.tandem_connects) assoc_.Connect(Now());
    last_timer_tick_ = Clock::now();
  }

  ~Bridge() {
    if (conn_ && conn_ != sock_) usrsctp_close(conn_);
    if (sock_) usrsctp_close(sock_);
    // Let usrsctp finish its ABORT/teardown output while we still exist, then stop routing to us.
    for (int i = 0; i < 10; ++i) usrsctp_handle_timers(10);
    usrsctp_deregister_address(addr_);
    Live().erase(addr_);
  }

  static Options MakeOptions(const Config& c) {
    Options o;
    o.enable_interleaving = c.interleaving;
    o.max_message_size = c.tandem_max_message;
    o.max_receive_buffer = 8 << 20;
    o.max_send_buffer = 32 << 20;
    o.rto_min = TimeDelta::Millis(50);
    o.rto_initial = TimeDelta::Millis(200);
    o.rto_max = TimeDelta::Seconds(1);  // bounds back-off under the heavy loss some cases inject
    return o;
  }

  // Bridges alive: usrsctp may still emit packets for an address whose bridge is gone (a closing
  // association). AF_CONN addresses are opaque to usrsctp: each bridge gets a fresh one, so that a lingering
  // association of an earlier case (same heap address, same port) never collides with a new one.
  static std::map<void*, Bridge*>& Live() {
    static std::map<void*, Bridge*> live;
    return live;
  }
  static void* NextAddress() {
    static uintptr_t next = 0x1000;
    return reinterpret_cast<void*>(next += 0x10);
  }

  static int Output(void* addr, void* buffer, size_t length, uint8_t, uint8_t) {
    auto it = Live().find(addr);
    if (it == Live().end()) return 0;
    Bridge* self = it->second;
    const auto* bytes = static_cast<const uint8_t*>(buffer);
    self->to_tandem_.emplace_back(bytes, bytes + length);
    return 0;
  }

  struct sockaddr_conn Address() {
    struct sockaddr_conn a {};
    a.sconn_family = AF_CONN;
    a.sconn_port = htons(5000);
    a.sconn_addr = addr_;
    return a;
  }

  Timestamp Now() const {
    return Timestamp::Micros(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - epoch_).count());
  }

  // Runs until `done` holds or `limit` (wall clock) passes. `step` runs every iteration (to keep senders
  // fed).
  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds limit,
                const std::function<void()>& step = nullptr) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      const bool busy = PumpOnce();
      if (step) step();
      if (done()) return true;
      if (!busy) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return done();
  }

  // One round: timers, packets both ways, events. Returns true if anything moved.
  bool PumpOnce() {
    bool busy = false;
    const auto t = Clock::now();
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(t - last_timer_tick_).count();
    if (elapsed > 0) {
      usrsctp_handle_timers(static_cast<uint32_t>(elapsed));
      last_timer_tick_ += std::chrono::milliseconds(elapsed);
    }
    const Timestamp now = Now();
    while (!to_tandem_.empty()) {
      std::vector<uint8_t> p = std::move(to_tandem_.front());
      to_tandem_.pop_front();
      busy = true;
      ++packets_u_to_t_;
      const bool lost = Chance(config_.loss_u_to_t);
      if (Tracing())
        std::printf("%8.3f u->t%s%s\n", now.us() / 1e6, lost ? " LOST" : "", Describe(p).c_str());
      if (lost) continue;
      assoc_.HandleReceive(now, p);
    }
    if (assoc_.PollTimeout() <= now) assoc_.HandleTimeout(now);
    while (auto p = assoc_.PollTransmit(now)) {
      busy = true;
      ++packets_t_to_u_;
      const bool lost = Chance(config_.loss_t_to_u);
      if (Tracing())
        std::printf("%8.3f t->u%s%s\n", now.us() / 1e6, lost ? " LOST" : "", Describe(*p).c_str());
      if (lost) continue;
      // usrsctp may answer from inside conninput; Output only queues.
      usrsctp_conninput(addr_, p->data(), p->size(), 0);
    }
    while (auto e = assoc_.PollEvent()) {
      busy = true;
      if (auto* m = std::get_if<MessageReceivedEvent>(&*e)) {
        t_received_.push_back(
            {m->message.stream, m->message.ppid, m->message.unordered, std::move(m->message.payload)});
      } else {
        t_events_.push_back(std::move(*e));
      }
    }
    if (!conn_) {
      struct socket* accepted = usrsctp_accept(sock_, nullptr, nullptr);
      if (accepted) {
        usrsctp_set_non_blocking(accepted, 1);
        conn_ = accepted;
        busy = true;
      }
    }
    if (conn_) busy |= ReceiveFromUsrsctp();
    return busy;
  }

  bool ReceiveFromUsrsctp() {
    bool any = false;
    while (true) {
      struct sctp_rcvinfo info {};
      socklen_t info_len = sizeof(info);
      unsigned int info_type = 0;
      int flags = 0;
      struct sockaddr_conn from {};
      socklen_t from_len = sizeof(from);
      const ssize_t n =
          usrsctp_recvv(conn_, recv_buffer_.data(), recv_buffer_.size(), reinterpret_cast<sockaddr*>(&from),
                        &from_len, &info, &info_len, &info_type, &flags);
      if (n < 0) break;
      any = true;
      if (n == 0) {
        u_eof_ = true;
        break;
      }
      if (flags & MSG_NOTIFICATION) {
        HandleNotification(reinterpret_cast<const union sctp_notification*>(recv_buffer_.data()));
        continue;
      }
      partial_.insert(partial_.end(), recv_buffer_.begin(), recv_buffer_.begin() + n);
      if (flags & MSG_EOR) {
        Received r;
        if (info_type == SCTP_RECVV_RCVINFO) {
          r.stream = info.rcv_sid;
          r.ppid = ntohl(info.rcv_ppid);
          r.unordered = info.rcv_flags & SCTP_UNORDERED;
        }
        r.payload = std::move(partial_);
        partial_.clear();
        u_received_.push_back(std::move(r));
      }
    }
    return any;
  }

  void HandleNotification(const union sctp_notification* n) {
    switch (n->sn_header.sn_type) {
      case SCTP_ASSOC_CHANGE:
        u_assoc_changes_.push_back(n->sn_assoc_change.sac_state);
        break;
      case SCTP_STREAM_RESET_EVENT: {
        const auto& r = n->sn_strreset_event;
        const size_t count = (r.strreset_length - sizeof(r)) / sizeof(uint16_t);
        for (size_t i = 0; i < count; ++i) {
          if (r.strreset_flags & SCTP_STREAM_RESET_INCOMING_SSN)
            u_incoming_resets_.push_back(r.strreset_stream_list[i]);
          if (r.strreset_flags & SCTP_STREAM_RESET_OUTGOING_SSN)
            u_outgoing_resets_.push_back(r.strreset_stream_list[i]);
        }
        break;
      }
      default:
        break;
    }
  }

  // usrsctp sends one message; false if its buffer is full (try again later).
  bool USend(uint16_t stream, uint32_t ppid, const std::vector<uint8_t>& payload, bool unordered = false,
             std::optional<uint32_t> max_rtx = std::nullopt) {
    struct sctp_sendv_spa spa {};
    spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
    spa.sendv_sndinfo.snd_sid = stream;
    spa.sendv_sndinfo.snd_ppid = htonl(ppid);
    spa.sendv_sndinfo.snd_flags = unordered ? SCTP_UNORDERED : 0;
    if (max_rtx) {
      spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
      spa.sendv_prinfo.pr_policy = SCTP_PR_SCTP_RTX;
      spa.sendv_prinfo.pr_value = *max_rtx;
    }
    const ssize_t n = usrsctp_sendv(conn_, payload.data(), payload.size(), nullptr, 0, &spa, sizeof(spa),
                                    SCTP_SENDV_SPA, 0);
    return n == static_cast<ssize_t>(payload.size());
  }

  void UResetOutgoing(std::vector<uint16_t> streams) {
    std::vector<uint8_t> buf(sizeof(struct sctp_reset_streams) + streams.size() * sizeof(uint16_t));
    auto* srs = reinterpret_cast<struct sctp_reset_streams*>(buf.data());
    srs->srs_assoc_id = SCTP_ALL_ASSOC;
    srs->srs_flags = SCTP_STREAM_RESET_OUTGOING;
    srs->srs_number_streams = static_cast<uint16_t>(streams.size());
    std::memcpy(srs->srs_stream_list, streams.data(), streams.size() * sizeof(uint16_t));
    EXPECT_EQ(
        usrsctp_setsockopt(conn_, IPPROTO_SCTP, SCTP_RESET_STREAMS, srs, static_cast<socklen_t>(buf.size())),
        0)
        << errno;
  }

  bool Connected() {
    const bool t = std::any_of(t_events_.begin(), t_events_.end(),
                               [](const Event& e) { return std::holds_alternative<ConnectedEvent>(e); });
    const bool u =
        std::find(u_assoc_changes_.begin(), u_assoc_changes_.end(), SCTP_COMM_UP) != u_assoc_changes_.end();
    return t && u && conn_ != nullptr;
  }
  template <typename E>
  int TCount() const {
    return static_cast<int>(std::count_if(t_events_.begin(), t_events_.end(),
                                          [](const Event& e) { return std::holds_alternative<E>(e); }));
  }

  bool Chance(double p) { return p > 0 && loss_rng_.NextU32() / 4294967296.0 < p; }

  Config config_;
  void* addr_ = NextAddress();
  SeededRng rng_, loss_rng_;
  Association assoc_;
  struct socket* sock_ = nullptr;
  struct socket* conn_ = nullptr;
  std::deque<std::vector<uint8_t>> to_tandem_;
  Clock::time_point epoch_ = Clock::now();
  Clock::time_point last_timer_tick_;
  std::vector<uint8_t> recv_buffer_ = std::vector<uint8_t>(1 << 18);
  std::vector<uint8_t> partial_;
  std::vector<Received> t_received_, u_received_;
  std::vector<Event> t_events_;
  std::vector<uint16_t> u_assoc_changes_;
  std::vector<uint16_t> u_incoming_resets_, u_outgoing_resets_;
  bool u_eof_ = false;
  uint64_t packets_u_to_t_ = 0, packets_t_to_u_ = 0;
};

class UsrsctpInteropTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    usrsctp_init_nothreads(0, &Bridge::Output, nullptr);
    usrsctp_sysctl_set_sctp_ecn_enable(0);
    usrsctp_sysctl_set_sctp_rto_min_default(50);
    usrsctp_sysctl_set_sctp_rto_initial_default(200);
    usrsctp_sysctl_set_sctp_init_rto_max_default(1000);
    usrsctp_sysctl_set_sctp_rto_max_default(1000);
    // Under the 30% loss some cases inject, usrsctp would otherwise mark its only path inactive after 5
    // timeouts and then wait for a heartbeat (30 s) before sending data again.
    usrsctp_sysctl_set_sctp_path_rtx_max_default(30);
    usrsctp_sysctl_set_sctp_assoc_rtx_max_default(30);
    usrsctp_sysctl_set_sctp_heartbeat_interval_default(1000);
  }
  static void TearDownTestSuite() {
    for (int i = 0; i < 100 && usrsctp_finish() != 0; ++i) usrsctp_handle_timers(10);
  }
  static constexpr std::chrono::milliseconds kSetupLimit{5000};
};

// Messages both ways in one mode; checks content, order (if ordered), stream and PPID.
void ExchangeMessages(Bridge& b, bool unordered, const std::vector<size_t>& sizes) {
  const size_t t_before = b.t_received_.size();
  const size_t u_before = b.u_received_.size();
  SendOptions so;
  so.unordered = unordered;
  for (uint32_t i = 0; i < sizes.size(); ++i) {
    ASSERT_TRUE(b.assoc_.Send(b.Now(), 3, 53, Content(i, sizes[i]), so).ok());
  }
  size_t next_u = 0;
  ASSERT_TRUE(b.RunUntil(
      [&] {
        return b.u_received_.size() == u_before + sizes.size() &&
               b.t_received_.size() == t_before + sizes.size();
      },
      std::chrono::seconds(10),
      [&] {
        while (next_u < sizes.size() &&
               b.USend(4, 51, Content(1000 + static_cast<uint32_t>(next_u), sizes[next_u]), unordered)) {
          ++next_u;
        }
      }))
      << "usrsctp got " << b.u_received_.size() - u_before << ", tandem got "
      << b.t_received_.size() - t_before << "; tandem " << ToString(b.assoc_.state()) << " reassembly "
      << b.assoc_.stats().reassembly_bytes << " dropped data " << b.assoc_.stats().dropped_data_chunks
      << " sacks sent " << b.assoc_.stats().sacks_sent << "; usrsctp assoc changes "
      << b.u_assoc_changes_.size() << " last " << b.u_assoc_changes_.back() << "; next_u " << next_u;
  std::set<uint32_t> seen_u, seen_t;
  for (size_t k = u_before; k < b.u_received_.size(); ++k) {
    const Received& r = b.u_received_[k];
    EXPECT_EQ(r.stream, 3);
    EXPECT_EQ(r.ppid, 53u);
    const uint32_t i = IndexOf(r.payload);
    ASSERT_LT(i, sizes.size());
    EXPECT_EQ(r.payload, Content(i, sizes[i]));
    if (!unordered) {
      EXPECT_EQ(i, k - u_before);
    }
    seen_u.insert(i);
  }
  for (size_t k = t_before; k < b.t_received_.size(); ++k) {
    const Received& r = b.t_received_[k];
    EXPECT_EQ(r.stream, 4);
    EXPECT_EQ(r.ppid, 51u);
    EXPECT_EQ(r.unordered, unordered);
    const uint32_t i = IndexOf(r.payload) - 1000;
    ASSERT_LT(i, sizes.size());
    EXPECT_EQ(r.payload, Content(1000 + i, sizes[i]));
    if (!unordered) {
      EXPECT_EQ(i, k - t_before);
    }
    seen_t.insert(i);
  }
  EXPECT_EQ(seen_u.size(), sizes.size());
  EXPECT_EQ(seen_t.size(), sizes.size());
}

const std::vector<size_t> kSizes = {4, 5, 100, 1000, 1100, 1200, 1500, 4000, 20000, 65536, 100000, 262144};

TEST_F(UsrsctpInteropTest, UsrsctpInitiatesThenMessagesBothWays) {
  Bridge b({.usrsctp_connects = true});
  ASSERT_TRUE(b.RunUntil([&] { return b.Connected(); }, kSetupLimit));
  EXPECT_EQ(b.assoc_.state(), State::kEstablished);
  EXPECT_TRUE(b.assoc_.peer_supports_partial_reliability());
  EXPECT_EQ(b.assoc_.negotiated_outbound_streams(), 1024);
  ExchangeMessages(b, /*unordered=*/false, kSizes);
  ExchangeMessages(b, /*unordered=*/true, kSizes);
  EXPECT_EQ(b.assoc_.stats().bad_checksum_packets, 0u);
  EXPECT_EQ(b.assoc_.stats().malformed_packets, 0u);
}

TEST_F(UsrsctpInteropTest, TandemInitiates) {
  Bridge b({.usrsctp_connects = false, .tandem_connects = true});
  ASSERT_TRUE(b.RunUntil([&] { return b.Connected(); }, kSetupLimit));
  ExchangeMessages(b, false, {4, 2000, 70000});
}

TEST_F(UsrsctpInteropTest, SimultaneousInit) {
  Bridge b({.usrsctp_connects = true, .tandem_connects = true});
  ASSERT_TRUE(b.RunUntil([&] { return b.Connected(); }, kSetupLimit));
  EXPECT_EQ(b.TCount<ConnectedEvent>(), 1);
  ExchangeMessages(b, false, {10, 3000, 64 * 1024});
}

TEST_F(UsrsctpInteropTest, SetupSurvivesLoss) {
  Bridge b({.usrsctp_connects = true, .tandem_connects = true, .loss_u_to_t = 0.3, .loss_t_to_u = 0.3});
  ASSERT_TRUE(b.RunUntil([&] { return b.Connected(); }, std::chrono::seconds(10)));
  ExchangeMessages(b, false, {10, 3000, 30000});
}

TEST_F(UsrsctpInteropTest, PartialReliabilityBothWaysUnderLoss) {
  Bridge b({.usrsctp_connects = true, .loss_u_to_t = 0.1, .loss_t_to_u = 0.1});
  ASSERT_TRUE(b.RunUntil([&] { return b.Connected(); }, std::chrono::seconds(10)));
  const uint32_t n = 200;
  SendOptions once;
  once.max_retransmits = 0;
  for (uint32_t i = 0; i < n; ++i) ASSERT_TRUE(b.assoc_.Send(b.Now(), 1, 53, Content(i, 3000), once).ok());
  ASSERT_TRUE(b.assoc_.Send(b.Now(), 1, 53, Content(n, 10)).ok());  // reliable end marker
  uint32_t next_u = 0;
  auto has = [](const std::vector<Received>& v, uint32_t index) {
    return std::any_of(v.begin(), v.end(), [&](const Received& r) { return IndexOf(r.payload) == index; });
  };
  const bool done = b.RunUntil(
      [&] { return has(b.u_received_, n) && has(b.t_received_, 1000 + n); }, std::chrono::seconds(20),
      [&] {
        while (next_u <= n && b.USend(2, 51, Content(1000 + next_u, next_u == n ? 10 : 3000), false,
                                      next_u == n ? std::nullopt : std::optional<uint32_t>(0))) {
          ++next_u;
        }
      });
  {
    const Stats s = b.assoc_.stats();
    std::printf(
        "u got %zu (last %u), t got %zu (last %u), next_u %u; tandem: abandoned %lu ftsn sent %lu recv %lu "
        "outstanding %lu queued %lu t3 %lu dropped_data %lu reasm %lu\n",
        b.u_received_.size(), b.u_received_.empty() ? 0 : IndexOf(b.u_received_.back().payload),
        b.t_received_.size(), b.t_received_.empty() ? 0 : IndexOf(b.t_received_.back().payload), next_u,
        s.abandoned_messages, s.forward_tsns_sent, s.forward_tsns_received, s.outstanding_chunks,
        s.queued_bytes, s.t3_expirations, s.dropped_data_chunks, s.reassembly_bytes);
  }
  ASSERT_TRUE(done);
  // Some messages were given up on each way, the rest arrived intact and in order, and nothing stalled.
  auto check = [&](const std::vector<Received>& v, uint32_t base) {
    uint32_t last = 0;
    bool first = true;
    for (const Received& r : v) {
      const uint32_t i = IndexOf(r.payload) - base;
      EXPECT_EQ(r.payload, Content(base + i, i == n ? 10 : 3000));
      if (!first) {
        EXPECT_GT(i, last);
      }
      last = i;
      first = false;
    }
    EXPECT_LT(v.size(), n + 1);
    EXPECT_GT(v.size(), n / 2);
  };
  check(b.u_received_, 0);
  check(b.t_received_, 1000);
  EXPECT_GT(b.assoc_.stats().abandoned_messages, 0u);
  EXPECT_GT(b.assoc_.stats().forward_tsns_received, 0u);
}

TEST_F(UsrsctpInteropTest, TenMebibytesEachWay) {
  Bridge b({.usrsctp_connects = true});
  ASSERT_TRUE(b.RunUntil([&] { return b.Connected(); }, kSetupLimit));
  const uint32_t n = 160;  // 10 MiB in 64 KiB messages
  uint32_t next_t = 0, next_u = 0;
  const auto start = Clock::now();
  ASSERT_TRUE(b.RunUntil([&] { return b.u_received_.size() == n && b.t_received_.size() == n; },
                         std::chrono::seconds(30),
                         [&] {
                           // Keep about 4 MiB queued on our side, as a data channel with bufferedAmount
                           // would.
                           while (next_t < n && b.assoc_.total_buffered_amount() < (4u << 20)) {
                             ASSERT_TRUE(b.assoc_.Send(b.Now(), 1, 53, Content(next_t, 65536)).ok());
                             ++next_t;
                           }
                           while (next_u < n && b.USend(1, 53, Content(5000 + next_u, 65536))) ++next_u;
                         }));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (uint32_t i = 0; i < n; ++i) {
    ASSERT_EQ(IndexOf(b.u_received_[i].payload), i);
    ASSERT_EQ(b.u_received_[i].payload, Content(i, 65536));
    ASSERT_EQ(IndexOf(b.t_received_[i].payload), 5000 + i);
    ASSERT_EQ(b.t_received_[i].payload, Content(5000 + i, 65536));
  }
  std::printf("[ interop  ] 10 MiB each way concurrently in %.2f s (%.1f MB/s total)\n", seconds,
              2 * 10.48576 / seconds);
}

TEST_F(UsrsctpInteropTest, StreamResetBothDirections) {
  Bridge b({.usrsctp_connects = true});
  ASSERT_TRUE(b.RunUntil([&] { return b.Connected(); }, kSetupLimit));
  ExchangeMessages(b, false, {10});
  // Like a data channel close from our side: reset our outgoing stream 3; usrsctp sees an incoming reset.
  const uint16_t three[] = {3};
  ASSERT_TRUE(b.assoc_.ResetStreams(three).ok());
  ASSERT_TRUE(
      b.RunUntil([&] { return b.TCount<OutgoingStreamsResetEvent>() == 1 && !b.u_incoming_resets_.empty(); },
                 kSetupLimit));
  EXPECT_EQ(b.u_incoming_resets_, std::vector<uint16_t>{3});
  // usrsctp resets its outgoing stream 4: we see an incoming reset.
  b.UResetOutgoing({4});
  ASSERT_TRUE(
      b.RunUntil([&] { return b.TCount<IncomingStreamsResetEvent>() == 1 && !b.u_outgoing_resets_.empty(); },
                 kSetupLimit));
  for (const Event& e : b.t_events_) {
    if (auto* r = std::get_if<IncomingStreamsResetEvent>(&e)) {
      EXPECT_EQ(r->streams, std::vector<uint16_t>{4});
    }
  }
  // Both streams restart at sequence 0 and keep working in both directions.
  ExchangeMessages(b, false, {10, 5000, 70000});
}

TEST_F(UsrsctpInteropTest, InterleavingWhenBothSupportIt) {
  Bridge b({.interleaving = true, .usrsctp_connects = true});
  ASSERT_TRUE(b.RunUntil([&] { return b.Connected(); }, kSetupLimit));
  EXPECT_TRUE(b.assoc_.peer_supports_interleaving());
  ExchangeMessages(b, false, kSizes);
  ExchangeMessages(b, true, {10, 5000, 100000});
}

TEST_F(UsrsctpInteropTest, GracefulShutdownFromTandem) {
  Bridge b({.usrsctp_connects = true});
  ASSERT_TRUE(b.RunUntil([&] { return b.Connected(); }, kSetupLimit));
  for (uint32_t i = 0; i < 20; ++i) ASSERT_TRUE(b.assoc_.Send(b.Now(), 1, 53, Content(i, 30000)).ok());
  b.assoc_.Shutdown(b.Now());
  ASSERT_TRUE(b.RunUntil([&] { return b.TCount<ClosedEvent>() == 1 && b.u_eof_; }, kSetupLimit));
  EXPECT_EQ(b.u_received_.size(), 20u);
  EXPECT_EQ(b.assoc_.state(), State::kClosed);
}

TEST_F(UsrsctpInteropTest, AbortFromTandem) {
  Bridge b({.usrsctp_connects = true});
  ASSERT_TRUE(b.RunUntil([&] { return b.Connected(); }, kSetupLimit));
  b.assoc_.Abort("bye");
  ASSERT_TRUE(b.RunUntil(
      [&] {
        return std::find(b.u_assoc_changes_.begin(), b.u_assoc_changes_.end(), SCTP_COMM_LOST) !=
               b.u_assoc_changes_.end();
      },
      kSetupLimit));
}

TEST_F(UsrsctpInteropTest, GracefulShutdownFromUsrsctp) {
  Bridge b({.usrsctp_connects = true});
  ASSERT_TRUE(b.RunUntil([&] { return b.Connected(); }, kSetupLimit));
  ExchangeMessages(b, false, {100});
  usrsctp_shutdown(b.conn_, SHUT_WR);
  ASSERT_TRUE(b.RunUntil([&] { return b.TCount<ClosedEvent>() == 1; }, kSetupLimit));
  EXPECT_EQ(b.assoc_.state(), State::kClosed);
}

}  // namespace
}  // namespace tandem::sctp

// STUN Binding load worker (RFC 8489 §5): requests from K connected sockets, validated responses counted.
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "bench/turn/load_worker.h"

namespace tandem::bench {

BindingWorker::BindingWorker(const Config& cfg, size_t steps, uint32_t first_socket, uint32_t socket_count,
                             uint32_t tid_prefix)
    : LoadWorker(cfg, steps), first_socket_(first_socket), tid_prefix_(tid_prefix), socks_(socket_count) {}

BindingWorker::~BindingWorker() {
  for (auto& s : socks_) {
    if (s.fd >= 0) close(s.fd);
  }
}

void BindingWorker::AppendPorts(std::vector<uint16_t>& out) const {
  for (const auto& s : socks_) out.push_back(s.local.port());
}

bool BindingWorker::Setup(int64_t deadline_ns) {
  if (!OpenEpoll()) return false;
  const SocketAddress local(cfg_.local_ip, 0);
  for (uint32_t i = 0; i < socks_.size(); ++i) {
    Sock& s = socks_[i];
    s.fd = OpenUdpSocket(local, &cfg_.server, cfg_.rcvbuf, &s.local);
    if (s.fd < 0) return false;
    s.slots.resize(cfg_.window + kOpenRing);
    Watch(s.fd, i);
  }
  // A Binding request has no attributes (RFC 8489 §7.2.1); the transaction id is patched into a copy per send.
  stun::MessageBuilder(request_template_, stun::Method::kBinding, stun::MessageClass::kRequest,
                       stun::TransactionId{})
      .Finish();
  const size_t len = request_template_.size();
  msgs_.resize(kBatch);
  iovs_.resize(kBatch);
  arena_.resize(kBatch * len);
  for (uint32_t i = 0; i < kBatch; ++i) {
    std::memcpy(arena_.data() + i * len, request_template_.data(), len);
    iovs_[i] = {arena_.data() + i * len, len};
    msgs_[i] = {};
    msgs_[i].msg_hdr.msg_iov = &iovs_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
  }
  return true;
}

void BindingWorker::Teardown(int64_t deadline_ns) {
  for (auto& s : socks_) {
    if (s.fd >= 0) close(s.fd);
    s.fd = -1;
  }
}

void BindingWorker::Queue(Sock& sock, uint32_t slot, int step, bool measure, int64_t now) {
  Slot& sl = sock.slots[slot];
  if (slot >= cfg_.window) {
    sl.generation = sock.open_seq++;
  } else {
    ++sl.generation;
  }
  sl.pending = true;
  sl.sent_ns = now;
  sl.step = static_cast<int16_t>(step);
  sl.measure = measure;
  sock.to_send.push_back(slot);
}

void BindingWorker::Flush(uint32_t s) {
  Sock& sock = socks_[s];
  const size_t len = request_template_.size();
  size_t pos = 0;
  while (pos < sock.to_send.size()) {
    const auto b = static_cast<uint32_t>(std::min<size_t>(kBatch, sock.to_send.size() - pos));
    for (uint32_t j = 0; j < b; ++j) {
      uint8_t* p = arena_.data() + j * len;
      const uint32_t slot = sock.to_send[pos + j];
      // Transaction id: run prefix | socket | slot | generation (RFC 8489 §5 leaves its content to the client).
      StoreBe32(p + 8, tid_prefix_);
      StoreBe16(p + 12, static_cast<uint16_t>(first_socket_ + s));
      StoreBe16(p + 14, static_cast<uint16_t>(slot));
      StoreBe32(p + 16, sock.slots[slot].generation);
    }
    int sent = sendmmsg(sock.fd, msgs_.data(), b, 0);
    if (sent < 0) sent = 0;
    for (uint32_t j = 0; j < b; ++j) {
      Slot& sl = sock.slots[sock.to_send[pos + j]];
      if (j >= static_cast<uint32_t>(sent)) sl.pending = false;
      if (!sl.measure) continue;
      if (j < static_cast<uint32_t>(sent)) {
        counters_[sl.step].dir[0].offered.Add();
      } else {
        counters_[sl.step].dir[0].send_errors.Add();
      }
    }
    pos += b;
  }
  sock.to_send.clear();
}

void BindingWorker::Receive(uint32_t s, int64_t now, const std::vector<Step>& steps, int active, bool closed_loop) {
  static thread_local std::vector<mmsghdr> msgs;
  static thread_local std::vector<iovec> iovs;
  static thread_local std::vector<uint8_t> buf;
  constexpr size_t kRx = 512;
  if (msgs.empty()) {
    msgs.resize(kBatch);
    iovs.resize(kBatch);
    buf.resize(kBatch * kRx);
    for (uint32_t i = 0; i < kBatch; ++i) {
      iovs[i] = {buf.data() + i * kRx, kRx};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
  }
  Sock& sock = socks_[s];
  const bool measure_now =
      active >= 0 && now >= steps[active].measure_start_ns && now < steps[active].measure_end_ns;
  int n = recvmmsg(sock.fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
  for (int i = 0; i < n; ++i) {
    auto parsed = stun::MessageView::Parse(ByteSpan(buf.data() + i * kRx, msgs[i].msg_len));
    if (!parsed.ok()) {
      other_packets_.Add();
      continue;
    }
    const stun::MessageView& m = *parsed;
    const auto& tid = m.transaction_id();
    const uint32_t slot = LoadBe16(&tid[6]);
    if (LoadBe32(&tid[0]) != tid_prefix_ || LoadBe16(&tid[4]) != first_socket_ + s || slot >= sock.slots.size()) {
      other_packets_.Add();
      continue;
    }
    Slot& sl = sock.slots[slot];
    if (!sl.pending || sl.generation != LoadBe32(&tid[8])) {
      other_packets_.Add();  // late (already timed out) or duplicate
      continue;
    }
    sl.pending = false;
    StepCounters& c = counters_[sl.step];
    auto mapped = m.GetXorAddress(stun::attr::kXorMappedAddress);
    if (m.message_class() != stun::MessageClass::kSuccessResponse || m.method() != stun::Method::kBinding ||
        !mapped || *mapped != sock.local) {
      c.invalid.Add();
    } else if (sl.measure) {
      c.dir[0].delivered.Add();
      c.dir[0].latency.Add((now - sl.sent_ns) / 1000);
    }
    if (closed_loop && slot < cfg_.window) Queue(sock, slot, active, measure_now, now);
  }
  Flush(s);
}

void BindingWorker::SendOpenLoop(uint64_t count, int step, bool measure, int64_t now) {
  const auto k = static_cast<uint32_t>(socks_.size());
  const uint64_t per = count / k;
  const auto extra = static_cast<uint32_t>(count % k);
  for (uint32_t i = 0; i < k; ++i) {
    const uint32_t s = (open_cursor_ + i) % k;
    for (uint64_t n = per + (i < extra ? 1 : 0); n > 0; --n) {
      Sock& sock = socks_[s];
      Queue(sock, cfg_.window + sock.open_seq % kOpenRing, step, measure, now);
    }
    Flush(s);
  }
  open_cursor_ = (open_cursor_ + extra) % k;
}

void BindingWorker::Run(const std::vector<Step>& steps, const std::atomic<int>& last_step) {
  const double share = static_cast<double>(socks_.size()) / static_cast<double>(cfg_.sockets);
  int current = -1;
  uint64_t done = 0;
  int64_t next_slice = steps.front().warm_start_ns;
  int64_t next_scan = next_slice;
  for (;;) {
    int64_t now = NowNs();
    const int last = std::min<int>(last_step.load(std::memory_order_relaxed), static_cast<int>(steps.size()) - 1);
    if (now >= steps[last].end_ns) break;
    int active = ActiveStep(steps, now);
    if (active > last) active = -1;
    const bool closed = active >= 0 && steps[active].rate <= 0;
    const bool measure_now =
        active >= 0 && now >= steps[active].measure_start_ns && now < steps[active].measure_end_ns;
    if (active != current) {
      current = active;
      done = 0;
      if (closed) {
        for (uint32_t s = 0; s < socks_.size(); ++s) {
          for (uint32_t slot = 0; slot < cfg_.window; ++slot) {
            if (!socks_[s].slots[slot].pending) Queue(socks_[s], slot, active, measure_now, now);
          }
          Flush(s);
        }
      }
    }
    if (now >= next_slice) {
      if (active >= 0 && !closed) {
        const double rate = steps[active].rate * share;
        const auto due = static_cast<uint64_t>(rate * static_cast<double>(now - steps[active].warm_start_ns) / 1e9);
        const auto max_burst =
            static_cast<uint64_t>(std::max(64.0, 2.0 * rate * static_cast<double>(cfg_.slice_ns) / 1e9));
        if (due > done) {
          uint64_t want = due - done;
          if (want > max_burst) {
            if (measure_now) counters_[active].dir[0].lag.Add(want - max_burst);
            done += want - max_burst;
            want = max_burst;
          }
          SendOpenLoop(want, active, measure_now, now);
          done += want;
        }
      }
      next_slice += cfg_.slice_ns;
      if (next_slice < now) next_slice = now + cfg_.slice_ns;
    }
    if (now >= next_scan) {
      // Closed-loop requests unanswered for --timeout-ms are lost; their slot is reused.
      for (uint32_t s = 0; s < socks_.size(); ++s) {
        Sock& sock = socks_[s];
        for (uint32_t slot = 0; slot < cfg_.window; ++slot) {
          Slot& sl = sock.slots[slot];
          if (!sl.pending || now - sl.sent_ns < cfg_.timeout_ns) continue;
          sl.pending = false;
          if (sl.measure) counters_[sl.step].timeouts.Add();
          if (closed) Queue(sock, slot, active, measure_now, now);
        }
        if (!sock.to_send.empty()) Flush(s);
      }
      next_scan = now + 10'000'000;
    }
    int n = Wait(std::min(next_slice, next_scan) - NowNs());
    now = NowNs();
    for (int i = 0; i < n; ++i) Receive(static_cast<uint32_t>(events_[i].data.u64), now, steps, active, closed);
  }
}

}  // namespace tandem::bench

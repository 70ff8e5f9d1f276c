// Splice: two stream connections joined into one byte pipe in both directions — an RFC 6062 client data
// connection and its peer data connection (§5.4: "data received on the client data connection MUST be sent as-is
// to the associated peer data connection" and back). No framing, no copy beyond the connections' own send queues.
//
// Backpressure with bounded memory: when one side's send queue reaches `high_water`, reading from the other side
// pauses (its socket's receive window closes) until the queue has drained. So each direction holds at most about
// high_water + one read in user space. Either side ending closes the other after what was queued for it is written.
//
// The owner routes each side's on_data to Forward() and its on_close to OnClosed(). Loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/bytes.h"
#include "net/stream_server.h"

namespace tandem::net {

class Splice {
 public:
  static constexpr size_t kDefaultHighWater = 256 * 1024;

  // Both connections must stay valid until OnClosed() was called for each, or until the Splice is destroyed.
  // Starts both reading (ResumeReading).
  Splice(StreamConnection& a, StreamConnection& b, size_t high_water = kDefaultHighWater);
  // Removes the drain handlers it installed on connections still open; closes nothing.
  ~Splice();
  Splice(const Splice&) = delete;
  Splice& operator=(const Splice&) = delete;

  // Bytes `from` received (its on_data): queued on the other side. Returns what on_data should return (all of it,
  // or -1 when the other side refused them: that closes `from`, and OnClosed propagates).
  long Forward(StreamConnection& from, ByteSpan bytes);
  // `which` closed (its on_close is running; the reference is dead afterwards): the other side is closed once its
  // queue is written. True when both sides are closed.
  bool OnClosed(StreamConnection& which);
  bool done() const { return !sides_[0].open && !sides_[1].open; }
  // Bytes received from side a (index 0) and from side b (index 1).
  uint64_t bytes_from(size_t side) const { return sides_[side].bytes; }

 private:
  struct Side {
    StreamConnection* conn = nullptr;
    bool open = true;
    bool paused = false;  // reading paused by this splice
    uint64_t bytes = 0;
  };
  int IndexOf(const StreamConnection& c) const;
  void Drained(size_t side);  // `side`'s send queue emptied: the other side may read again

  size_t high_water_;
  Side sides_[2];
};

}  // namespace tandem::net

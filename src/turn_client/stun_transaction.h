// STUN client transactions (RFC 8489 §6.2): the retransmission timer of one request, reusable by any STUN
// client (the TURN client here; an ICE agent's Binding requests can use the same timer with their own RTO,
// RFC 8445 §14.3). Sans-IO: the owner stores the request bytes, asks deadline(), and calls OnTimeout(now)
// when it is reached; the transaction says whether to retransmit or give up.
#pragma once

#include <cstdint>
#include <vector>

#include "core/bytes.h"
#include "core/time.h"
#include "stun/message.h"

namespace tandem::turn_client {

// RFC 8489 §6.2.1 (UDP): the request goes out at 0, RTO, 3 RTO, 7 RTO, ... doubling the interval, Rc times in
// all; after the last one the client waits Rm * RTO and then fails. With the defaults (RTO 500 ms, Rc 7, Rm
// 16): 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s, failure at 39.5 s. §6.2.2 (TCP/TLS): one transmission and failure
// after Ti = 39.5 s.
struct RetransmissionPolicy {
  TimeDelta initial_rto = TimeDelta::Millis(500);
  int max_transmissions = 7;                              // Rc
  int last_wait_factor = 16;                              // Rm
  TimeDelta reliable_timeout = TimeDelta::Millis(39500);  // Ti
  // The RTO never doubles beyond this (RFC 8489 §6.2.1 allows an upper bound; 0 disables it).
  TimeDelta max_rto = TimeDelta::Zero();
};

class StunTransaction {
 public:
  enum class Step {
    kWait,        // the deadline has not been reached
    kRetransmit,  // send request() again now; deadline() moved on
    kTimedOut,    // no response in time: the transaction failed (deadline() is now infinite)
  };

  // A transaction whose first transmission happens at `now` (the caller sends request() right away).
  StunTransaction(const stun::TransactionId& id, std::vector<uint8_t> request, bool reliable,
                  const RetransmissionPolicy& policy, Timestamp now);

  const stun::TransactionId& id() const { return id_; }
  ByteSpan request() const { return request_; }
  // Next retransmission or the final timeout; Timestamp::Infinity() once timed out.
  Timestamp deadline() const { return deadline_; }
  int transmissions() const { return transmissions_; }
  Timestamp started() const { return started_; }
  bool timed_out() const { return deadline_.IsInfinite(); }

  // Advances the timer when `now` >= deadline(). At most one retransmission per call: a caller woken late
  // sends the request once and the schedule continues from `now`.
  Step OnTimeout(Timestamp now);

 private:
  stun::TransactionId id_;
  std::vector<uint8_t> request_;
  bool reliable_;
  RetransmissionPolicy policy_;
  Timestamp started_;
  Timestamp deadline_;
  TimeDelta rto_;
  int transmissions_ = 1;
};

}  // namespace tandem::turn_client

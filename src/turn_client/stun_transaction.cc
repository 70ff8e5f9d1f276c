#include "turn_client/stun_transaction.h"

#include <utility>

namespace tandem::turn_client {

StunTransaction::StunTransaction(const stun::TransactionId& id, std::vector<uint8_t> request, bool reliable,
                                 const RetransmissionPolicy& policy, Timestamp now)
    : id_(id), request_(std::move(request)), reliable_(reliable), policy_(policy), started_(now) {
  rto_ = policy_.initial_rto;
  // RFC 8489 §6.2.2: over a reliable transport the request is sent once and fails after Ti.
  deadline_ = now + (reliable_ ? policy_.reliable_timeout : rto_);
  if (!reliable_ && policy_.max_transmissions <= 1) deadline_ = now + rto_ * policy_.last_wait_factor;
}

StunTransaction::Step StunTransaction::OnTimeout(Timestamp now) {
  if (deadline_.IsInfinite() || now < deadline_) return Step::kWait;
  if (reliable_ || transmissions_ >= policy_.max_transmissions) {
    deadline_ = Timestamp::Infinity();
    return Step::kTimedOut;
  }
  // RFC 8489 §6.2.1: retransmit and double the RTO; after the Rc-th transmission wait Rm times the initial
  // RTO.
  ++transmissions_;
  if (transmissions_ >= policy_.max_transmissions) {
    deadline_ = now + policy_.initial_rto * policy_.last_wait_factor;
    return Step::kRetransmit;
  }
  rto_ = rto_ * 2;
  if (policy_.max_rto > TimeDelta::Zero() && rto_ > policy_.max_rto) rto_ = policy_.max_rto;
  deadline_ = now + rto_;
  return Step::kRetransmit;
}

}  // namespace tandem::turn_client

#include "sctp/reassembly_queue.h"

#include <algorithm>

#include "sctp/sequence.h"

namespace tandem::sctp {

ReassemblyQueue::ReassemblyQueue(size_t max_message_size, std::function<void(Message&&)> deliver)
    : max_message_size_(max_message_size), deliver_(std::move(deliver)) {}

void ReassemblyQueue::Reset(bool interleaved) {
  interleaved_ = interleaved;
  partials_.clear();
  streams_.clear();
  buffered_bytes_ = 0;
}

uint64_t ReassemblyQueue::UnwrapId(const InStream& s, uint32_t id) const {
  if (interleaved_) return Unwrap32(s.next_ordered, id);
  // DATA: 16-bit SSN (RFC 9260 §3.3.1), serial arithmetic per §1.6.
  const int16_t delta =
      static_cast<int16_t>(static_cast<uint16_t>(id) - static_cast<uint16_t>(s.next_ordered));
  return s.next_ordered + delta;
}

std::vector<uint8_t> ReassemblyQueue::TakeBuffer() {
  if (buffer_pool_.empty()) return {};
  std::vector<uint8_t> b = std::move(buffer_pool_.back());
  buffer_pool_.pop_back();
  return b;
}

void ReassemblyQueue::Recycle(std::vector<uint8_t>&& buffer) {
  constexpr size_t kMaxPooled = 256;
  if (buffer_pool_.size() < kMaxPooled && buffer.capacity() > 0) {
    buffer.clear();
    buffer_pool_.push_back(std::move(buffer));
  }
}

ReassemblyQueue::Partial* ReassemblyQueue::FindPartial(uint16_t stream, bool unordered, uint32_t id,
                                                       bool orphans) {
  for (Partial& p : partials_) {
    if (p.stream == stream && p.unordered == unordered && p.orphans == orphans && (orphans || p.id == id))
      return &p;
  }
  return nullptr;
}

ReassemblyQueue::Partial* ReassemblyQueue::NewPartial(uint16_t stream, bool unordered, uint32_t id,
                                                      bool orphans) {
  if (partials_.size() >= kMaxPartialMessages) return nullptr;
  Partial& p = partials_.emplace_back();
  p.stream = stream;
  p.unordered = unordered;
  p.id = id;
  p.orphans = orphans;
  return &p;
}

void ReassemblyQueue::RemovePartial(Partial* p) {
  buffered_bytes_ -= p->bytes;
  for (Fragment& f : p->pending) Recycle(std::move(f.data));
  const size_t index = static_cast<size_t>(p - partials_.data());
  if (index + 1 != partials_.size()) partials_[index] = std::move(partials_.back());
  partials_.pop_back();
}

ReassemblyQueue::AddResult ReassemblyQueue::Add(const ReceivedFragment& f) {
  if (f.payload.size() > max_message_size_) return AddResult::kMessageTooLarge;
  // Fast path: a whole message in one chunk.
  if (f.beginning && f.end) {
    Deliver(f.stream, f.unordered, f.id, f.ppid, std::vector<uint8_t>(f.payload.begin(), f.payload.end()));
    return AddResult::kAccepted;
  }
  // Fragments of messages already delivered or skipped (a FORWARD-TSN overtook a retransmission) are dropped,
  // so they cannot start a partial message that would never complete.
  if (auto it = streams_.find(f.stream); it != streams_.end()) {
    const InStream& s = it->second;
    if (!f.unordered && UnwrapId(s, f.id) < s.next_ordered) return AddResult::kAccepted;
    if (f.unordered && interleaved_ && s.unordered_skipped &&
        SerialLessOrEqual32(f.id, *s.unordered_skipped)) {
      return AddResult::kAccepted;
    }
  }
  Partial* p = nullptr;
  uint64_t key = 0;
  if (interleaved_) {
    // RFC 8260 §2.1: (stream, U, MID) names the message; the FSN orders its fragments.
    key = f.fsn;
    p = FindPartial(f.stream, f.unordered, f.id, false);
    if (!p) p = NewPartial(f.stream, f.unordered, f.id, false);
  } else if (!f.unordered) {
    // RFC 9260 §6.9: an ordered message is (stream, SSN); fragments are ordered by TSN.
    key = f.tsn;
    p = FindPartial(f.stream, false, f.id, false);
    if (!p) p = NewPartial(f.stream, false, f.id, false);
  } else {
    // Unordered DATA carries no usable SSN: a message is a run of consecutive TSNs from B to E on one stream.
    key = f.tsn;
    if (f.beginning) {
      p = NewPartial(f.stream, true, static_cast<uint32_t>(f.tsn), false);
    } else {
      for (Partial& q : partials_) {
        if (q.stream == f.stream && q.unordered && !q.orphans && q.started && q.next_key == f.tsn) {
          p = &q;
          break;
        }
      }
      if (!p) p = FindPartial(f.stream, true, 0, true);
      if (!p) p = NewPartial(f.stream, true, 0, true);
    }
  }
  if (!p) return AddResult::kNoResources;
  const bool ok = AddToPartial(p, f, key);
  if (!interleaved_ && f.unordered) PruneOrphans();
  return ok ? AddResult::kAccepted : AddResult::kMessageTooLarge;
}

void ReassemblyQueue::AppendToPrefix(Partial* p, ByteSpan data, uint64_t tsn) {
  p->assembled.insert(p->assembled.end(), data.begin(), data.end());
  p->next_key++;
  p->min_tsn = std::min(p->min_tsn, tsn);
}

bool ReassemblyQueue::AddToPartial(Partial* p, const ReceivedFragment& f, uint64_t key) {
  if (p->started && key < p->next_key)
    return true;  // a fragment we already have (hostile or I-DATA FSN reuse)
  // Orphans of several unordered messages may share a bucket: allow them twice the message limit in total.
  const size_t limit = p->orphans ? 2 * max_message_size_ : max_message_size_;
  if (p->bytes + f.payload.size() > limit) return false;
  const bool extends = p->started ? key == p->next_key : f.beginning && !p->orphans;
  if (extends) {
    if (!p->started) {
      p->started = true;
      p->ppid = f.ppid;
      p->next_key = key;
      // Size the payload once for the common case of a stream carrying similar messages (file chunks):
      // growing it fragment by fragment would copy the message again and again.
      auto it = streams_.find(f.stream);
      const size_t hint = it == streams_.end() ? 0 : it->second.size_hint;
      p->assembled.reserve(std::min(max_message_size_, std::max(hint, 2 * f.payload.size())));
    }
    AppendToPrefix(p, f.payload, f.tsn);
    p->bytes += f.payload.size();
    buffered_bytes_ += f.payload.size();
    if (f.end) {
      Complete(p);
      return true;
    }
    return Drain(p);
  }
  // Out of order: keep a copy, sorted by key. Duplicate keys are dropped.
  auto it = std::lower_bound(p->pending.begin(), p->pending.end(), key,
                             [](const Fragment& x, uint64_t k) { return x.key < k; });
  if (it != p->pending.end() && it->key == key) return true;
  Fragment frag;
  frag.key = key;
  frag.tsn = f.tsn;
  frag.ppid = f.ppid;
  frag.beginning = f.beginning;
  frag.end = f.end;
  frag.data = TakeBuffer();
  frag.data.assign(f.payload.begin(), f.payload.end());
  p->min_tsn = std::min(p->min_tsn, f.tsn);
  p->bytes += f.payload.size();
  buffered_bytes_ += f.payload.size();
  p->pending.insert(it, std::move(frag));
  return true;
}

bool ReassemblyQueue::Drain(Partial* p) {
  while (true) {
    Fragment frag;
    bool found = false;
    if (!p->pending.empty() && p->pending.front().key == p->next_key) {
      // From the message's own out-of-order fragments.
      frag = std::move(p->pending.front());
      p->pending.erase(p->pending.begin());
      found = true;
    } else if (!interleaved_ && p->unordered) {
      // Unordered DATA: from the stream's orphans (fragments that arrived before their B fragment).
      Partial* orphans = FindPartial(p->stream, true, 0, true);
      if (orphans) {
        auto it = std::lower_bound(orphans->pending.begin(), orphans->pending.end(), p->next_key,
                                   [](const Fragment& x, uint64_t k) { return x.key < k; });
        if (it != orphans->pending.end() && it->key == p->next_key && !it->beginning) {
          frag = std::move(*it);
          orphans->pending.erase(it);
          orphans->bytes -= frag.data.size();
          p->bytes += frag.data.size();
          found = true;
          // An emptied orphan bucket stays until PruneOrphans: removing it here would move *p.
        }
      }
    }
    if (!found) return true;
    if (p->bytes > max_message_size_) {
      // Account the fragment we took as part of p, so RemovePartial-on-abort stays consistent.
      Recycle(std::move(frag.data));
      return false;
    }
    AppendToPrefix(p, frag.data, frag.tsn);
    Recycle(std::move(frag.data));
    if (frag.end) {
      Complete(p);
      return true;
    }
  }
}

void ReassemblyQueue::PruneOrphans() {
  for (size_t i = 0; i < partials_.size();) {
    if (partials_[i].orphans && partials_[i].pending.empty()) {
      RemovePartial(&partials_[i]);
      continue;
    }
    ++i;
  }
}

void ReassemblyQueue::Complete(Partial* p) {
  std::vector<uint8_t> payload = std::move(p->assembled);
  const uint16_t stream = p->stream;
  const bool unordered = p->unordered;
  const uint32_t id = p->id;
  const uint32_t ppid = p->ppid;
  p->assembled = {};
  RemovePartial(p);
  Deliver(stream, unordered, id, ppid, std::move(payload));
}

void ReassemblyQueue::Deliver(uint16_t stream, bool unordered, uint32_t id, uint32_t ppid,
                              std::vector<uint8_t>&& payload) {
  // Do not hand the application a buffer much larger than its message (a size hint that did not fit).
  if (payload.capacity() > 2 * payload.size() + 4096) payload.shrink_to_fit();
  if (payload.size() > kChunkHeaderSize) {
    auto [it, inserted] = streams_.try_emplace(stream);
    if (inserted) it->second.next_ordered = kSequenceBase;
    it->second.size_hint = payload.size();
  }
  if (unordered) {
    deliver_(Message{stream, ppid, std::move(payload), true});
    return;
  }
  auto [it, inserted] = streams_.try_emplace(stream);
  InStream& s = it->second;
  if (inserted) s.next_ordered = kSequenceBase;
  const uint64_t uid = UnwrapId(s, id);
  if (uid < s.next_ordered) return;  // skipped by a FORWARD-TSN or a stale duplicate
  if (uid == s.next_ordered) {
    s.next_ordered++;
    deliver_(Message{stream, ppid, std::move(payload), false});
    DeliverReady(stream, s);
    return;
  }
  buffered_bytes_ += payload.size();
  s.ready.emplace(uid, Message{stream, ppid, std::move(payload), false});
}

void ReassemblyQueue::DeliverReady(uint16_t stream, InStream& s) {
  while (!s.ready.empty() && s.ready.begin()->first <= s.next_ordered) {
    auto node = s.ready.extract(s.ready.begin());
    buffered_bytes_ -= node.mapped().payload.size();
    if (node.key() == s.next_ordered) {
      s.next_ordered++;
      deliver_(std::move(node.mapped()));
    }
  }
}

void ReassemblyQueue::HandleForwardTsn(uint64_t new_cumulative_tsn,
                                       std::span<const ForwardTsnChunk::SkippedStream> skipped) {
  // Unordered fragments at or below the new cumulative TSN belong to abandoned messages.
  for (size_t i = 0; i < partials_.size();) {
    Partial& p = partials_[i];
    if (p.unordered && p.orphans) {
      auto keep = std::remove_if(p.pending.begin(), p.pending.end(), [&](Fragment& f) {
        if (f.tsn > new_cumulative_tsn) return false;
        p.bytes -= f.data.size();
        buffered_bytes_ -= f.data.size();
        Recycle(std::move(f.data));
        return true;
      });
      p.pending.erase(keep, p.pending.end());
      if (p.pending.empty()) {
        RemovePartial(&p);
        continue;
      }
    } else if (p.unordered && p.min_tsn <= new_cumulative_tsn) {
      RemovePartial(&p);
      continue;
    }
    ++i;
  }
  // Ordered streams: drop partial messages up to the skipped SSN, then deliver and move past it.
  for (const auto& skip : skipped) {
    auto [it, inserted] = streams_.try_emplace(skip.stream);
    InStream& s = it->second;
    if (inserted) s.next_ordered = kSequenceBase;
    const uint64_t last = UnwrapId(s, skip.ssn);
    for (size_t i = 0; i < partials_.size();) {
      Partial& p = partials_[i];
      if (!p.unordered && p.stream == skip.stream && UnwrapId(s, p.id) <= last) {
        RemovePartial(&p);
        continue;
      }
      ++i;
    }
    // Complete messages up to `last` are still delivered, in order (RFC 3758 §3.6: only the skipped SSNs are
    // lost).
    while (!s.ready.empty() && s.ready.begin()->first <= last) {
      auto node = s.ready.extract(s.ready.begin());
      buffered_bytes_ -= node.mapped().payload.size();
      if (node.key() >= s.next_ordered) {
        s.next_ordered = node.key() + 1;
        deliver_(std::move(node.mapped()));
      }
    }
    if (last >= s.next_ordered) s.next_ordered = last + 1;
    DeliverReady(skip.stream, s);
  }
}

void ReassemblyQueue::HandleIForwardTsn(std::span<const IForwardTsnChunk::SkippedStream> skipped) {
  for (const auto& skip : skipped) {
    auto [it, inserted] = streams_.try_emplace(skip.stream);
    InStream& s = it->second;
    if (inserted) s.next_ordered = kSequenceBase;
    for (size_t i = 0; i < partials_.size();) {
      Partial& p = partials_[i];
      if (p.stream == skip.stream && p.unordered == skip.unordered && SerialLessOrEqual32(p.id, skip.mid)) {
        RemovePartial(&p);
        continue;
      }
      ++i;
    }
    if (skip.unordered) {
      if (!s.unordered_skipped || SerialLess32(*s.unordered_skipped, skip.mid))
        s.unordered_skipped = skip.mid;
      continue;
    }
    const uint64_t last = UnwrapId(s, skip.mid);
    while (!s.ready.empty() && s.ready.begin()->first <= last) {
      auto node = s.ready.extract(s.ready.begin());
      buffered_bytes_ -= node.mapped().payload.size();
      if (node.key() >= s.next_ordered) {
        s.next_ordered = node.key() + 1;
        deliver_(std::move(node.mapped()));
      }
    }
    if (last >= s.next_ordered) s.next_ordered = last + 1;
    DeliverReady(skip.stream, s);
  }
}

void ReassemblyQueue::ResetStreams(std::span<const uint16_t> streams) {
  auto reset = [&](InStream& s) {
    for (auto& [uid, m] : s.ready) buffered_bytes_ -= m.payload.size();
    s.ready.clear();
    s.next_ordered = kSequenceBase;
    s.unordered_skipped.reset();
  };
  if (streams.empty()) {
    for (auto& [id, s] : streams_) reset(s);
    return;
  }
  for (uint16_t stream : streams) {
    auto it = streams_.find(stream);
    if (it != streams_.end()) reset(it->second);
  }
}

}  // namespace tandem::sctp

// A FIFO over a power-of-two ring buffer with random access by position. Unlike std::deque it keeps its
// storage across push/pop cycles, so a steady-state queue (outstanding chunks, events) never touches the
// allocator.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace tandem::sctp {

template <typename T>
class RingQueue {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  T& operator[](size_t i) { return slots_[(head_ + i) & mask_]; }
  const T& operator[](size_t i) const { return slots_[(head_ + i) & mask_]; }
  T& front() { return (*this)[0]; }
  const T& front() const { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }
  const T& back() const { return (*this)[size_ - 1]; }

  void push_back(T value) {
    if (size_ == slots_.size()) Grow();
    slots_[(head_ + size_) & mask_] = std::move(value);
    ++size_;
  }
  // Removes the first element; its slot is reset to T{} so held resources are released now.
  void pop_front() {
    slots_[head_] = T{};
    head_ = (head_ + 1) & mask_;
    --size_;
  }
  void pop_back() {
    (*this)[size_ - 1] = T{};
    --size_;
  }
  void clear() {
    while (!empty()) pop_front();
    head_ = 0;
  }
  // Removes the element at position i, shifting the later ones (O(n); for rare removals).
  void erase_at(size_t i) {
    for (size_t k = i; k + 1 < size_; ++k) (*this)[k] = std::move((*this)[k + 1]);
    pop_back();
  }

 private:
  void Grow() {
    const size_t capacity = slots_.empty() ? 8 : slots_.size() * 2;
    std::vector<T> grown(capacity);
    for (size_t i = 0; i < size_; ++i) grown[i] = std::move((*this)[i]);
    slots_ = std::move(grown);
    head_ = 0;
    mask_ = capacity - 1;
  }

  std::vector<T> slots_;
  size_t head_ = 0;
  size_t size_ = 0;
  size_t mask_ = 0;
};

}  // namespace tandem::sctp

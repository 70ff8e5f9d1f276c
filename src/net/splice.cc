#include "net/splice.h"

namespace tandem::net {

Splice::Splice(StreamConnection& a, StreamConnection& b, size_t high_water) : high_water_(high_water) {
  sides_[0].conn = &a;
  sides_[1].conn = &b;
  a.SetDrainHandler([this] { Drained(0); });
  b.SetDrainHandler([this] { Drained(1); });
  a.ResumeReading();
  b.ResumeReading();
}

Splice::~Splice() {
  for (auto& side : sides_) {
    if (side.open) side.conn->SetDrainHandler(nullptr);
  }
}

int Splice::IndexOf(const StreamConnection& c) const {
  if (sides_[0].open && sides_[0].conn == &c) return 0;
  if (sides_[1].open && sides_[1].conn == &c) return 1;
  return -1;
}

long Splice::Forward(StreamConnection& from, ByteSpan bytes) {
  const int i = IndexOf(from);
  if (i < 0) return -1;
  Side& in = sides_[i];
  Side& out = sides_[1 - i];
  in.bytes += bytes.size();
  if (!out.open) return static_cast<long>(bytes.size());  // the other side is gone; this one is closing
  if (!bytes.empty() && !out.conn->Send(bytes)) return -1;
  if (!in.paused && out.conn->queued_bytes() >= high_water_) {
    in.paused = true;
    from.PauseReading();
  }
  return static_cast<long>(bytes.size());
}

void Splice::Drained(size_t side) {
  Side& other = sides_[1 - side];
  if (!other.open || !other.paused) return;
  other.paused = false;
  other.conn->ResumeReading();
}

bool Splice::OnClosed(StreamConnection& which) {
  const int i = IndexOf(which);
  if (i < 0) return done();
  sides_[i].open = false;
  sides_[i].conn = nullptr;
  Side& other = sides_[1 - i];
  if (other.open) {
    other.conn->SetDrainHandler(nullptr);
    other.conn->Close();  // flushes what it has queued (the closed side's last bytes), then FIN
  }
  return done();
}

}  // namespace tandem::net

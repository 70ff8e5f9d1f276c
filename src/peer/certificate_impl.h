// The inside of tandem::Certificate.
#pragma once

#include "dtls/certificate.h"
#include "tandem/certificate.h"

namespace tandem {

struct Certificate::Impl {
  dtls::Certificate certificate;
};

}  // namespace tandem

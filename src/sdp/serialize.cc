// The SDP serializer. Lines follow RFC 8866 §5 and, for attributes, the order Chromium (libwebrtc) writes, so
// that a description Chromium produced comes back byte for byte; unknown attributes follow the typed ones of
// their section (in a media section before the codecs, where Chromium writes the one it has, a=rtcp-xr).
#include <string>

#include "sdp/session_description.h"

namespace tandem::sdp {
namespace {

class Writer {
 public:
  std::string Take() { return std::move(out_); }

  void Line(char type, std::string_view value) {
    out_ += type;
    out_ += '=';
    out_ += value;
    out_ += "\r\n";
  }

  void Attribute(std::string_view name) {
    out_ += "a=";
    out_ += name;
    out_ += "\r\n";
  }

  void Attribute(std::string_view name, std::string_view value) {
    out_ += "a=";
    out_ += name;
    out_ += ':';
    out_ += value;
    out_ += "\r\n";
  }

  void Flag(std::string_view name, bool set) {
    if (set) Attribute(name);
  }

  template <typename T>
  void Each(std::string_view name, const std::vector<T>& values) {
    for (const T& v : values) Attribute(name, v.ToString());
  }

  void Connection(const std::optional<ConnectionData>& c) {
    if (c) Line('c', c->net_type + ' ' + c->addr_type + ' ' + c->address);
  }

  void Bandwidths(const std::vector<Bandwidth>& bandwidths) {
    for (const Bandwidth& b : bandwidths) Line('b', b.type + ':' + std::to_string(b.value));
  }

  void Ice(const std::string& ufrag, const std::string& pwd, const std::vector<std::string>& options) {
    if (!ufrag.empty()) Attribute("ice-ufrag", ufrag);
    if (!pwd.empty()) Attribute("ice-pwd", pwd);
    if (!options.empty()) {
      std::string joined;
      for (const std::string& o : options) {
        if (!joined.empty()) joined += ' ';
        joined += o;
      }
      Attribute("ice-options", joined);
    }
  }

  void Dtls(const std::vector<Fingerprint>& fingerprints, const std::optional<Setup>& setup) {
    Each("fingerprint", fingerprints);
    if (setup) Attribute("setup", ToString(*setup));
  }

  void Unknown(const std::vector<sdp::Attribute>& attributes) {
    for (const sdp::Attribute& a : attributes) {
      if (a.value) {
        Attribute(a.name, *a.value);
      } else {
        Attribute(a.name);
      }
    }
  }

  void Session(const SessionDescription& d) {
    Line('v', "0");
    const Origin& o = d.origin;
    Line('o', o.username + ' ' + std::to_string(o.session_id) + ' ' + std::to_string(o.session_version) +
                  ' ' + o.net_type + ' ' + o.addr_type + ' ' + o.address);
    Line('s', d.session_name);
    if (d.information) Line('i', *d.information);
    if (d.uri) Line('u', *d.uri);
    for (const std::string& e : d.emails) Line('e', e);
    for (const std::string& p : d.phones) Line('p', p);
    Connection(d.connection);
    Bandwidths(d.bandwidths);
    for (const Timing& t : d.timings) {
      Line('t', std::to_string(t.start_time) + ' ' + std::to_string(t.stop_time));
      for (const std::string& r : t.repeat_times) Line('r', r);
      if (t.zone_adjustments) Line('z', *t.zone_adjustments);
    }
    if (d.encryption_key) Line('k', *d.encryption_key);

    Each("group", d.groups);
    Flag("extmap-allow-mixed", d.extmap_allow_mixed);
    for (const MsidSemantic& m : d.msid_semantics) Attribute("msid-semantic", m.ToString());
    Flag("ice-lite", d.ice_lite);
    Ice(d.ice_ufrag, d.ice_pwd, d.ice_options);
    Dtls(d.fingerprints, d.setup);
    if (d.direction) Attribute(ToString(*d.direction));
    Each("extmap", d.extmaps);
    Flag("end-of-candidates", d.end_of_candidates);
    Unknown(d.attributes);
  }

  // rtpmap, rtcp-fb and fmtp grouped per payload type as browsers write them: after each rtpmap, the rtcp-fb
  // and then fmtp lines of its payload type that come next in their own lists. Taking only from the front of
  // each list writes every list in its own order, so parsing gives the same three lists back whatever their
  // order.
  void Codecs(const MediaDescription& m) {
    size_t fb = 0, fmtp = 0;
    for (const RtpMap& map : m.rtpmaps) {
      Attribute("rtpmap", map.ToString());
      while (fb < m.rtcp_feedback.size() && m.rtcp_feedback[fb].payload_type == map.payload_type) {
        Attribute("rtcp-fb", m.rtcp_feedback[fb++].ToString());
      }
      while (fmtp < m.fmtps.size() && m.fmtps[fmtp].payload_type == map.payload_type) {
        Attribute("fmtp", m.fmtps[fmtp++].ToString());
      }
    }
    for (; fb < m.rtcp_feedback.size(); ++fb) Attribute("rtcp-fb", m.rtcp_feedback[fb].ToString());
    for (; fmtp < m.fmtps.size(); ++fmtp) Attribute("fmtp", m.fmtps[fmtp].ToString());
  }

  void Media(const MediaDescription& m) {
    std::string line(m.media());
    line += ' ' + std::to_string(m.port);
    if (m.port_count) line += '/' + std::to_string(*m.port_count);
    line += ' ' + m.proto;
    for (const std::string& f : m.formats) line += ' ' + f;
    Line('m', line);
    if (m.title) Line('i', *m.title);
    Connection(m.connection);
    Bandwidths(m.bandwidths);
    if (m.encryption_key) Line('k', *m.encryption_key);

    if (m.rtcp) Attribute("rtcp", m.rtcp->ToString());
    for (const std::string& c : m.candidates) Attribute("candidate", c);
    Flag("end-of-candidates", m.end_of_candidates);
    Ice(m.ice_ufrag, m.ice_pwd, m.ice_options);
    Dtls(m.fingerprints, m.setup);
    if (!m.mid.empty()) Attribute("mid", m.mid);
    Flag("bundle-only", m.bundle_only);
    Flag("extmap-allow-mixed", m.extmap_allow_mixed);
    Each("extmap", m.extmaps);
    if (m.direction) Attribute(ToString(*m.direction));
    Each("msid", m.msids);
    Flag("rtcp-mux", m.rtcp_mux);
    Flag("rtcp-mux-only", m.rtcp_mux_only);
    Flag("rtcp-rsize", m.rtcp_rsize);
    Unknown(m.attributes);
    Codecs(m);
    Each("ssrc-group", m.ssrc_groups);
    Each("ssrc", m.ssrcs);
    Each("rid", m.rids);
    if (m.simulcast) Attribute("simulcast", m.simulcast->ToString());
    if (m.sctp_port) Attribute("sctp-port", std::to_string(*m.sctp_port));
    if (m.sctpmap) Attribute("sctpmap", m.sctpmap->ToString());
    if (m.max_message_size) Attribute("max-message-size", std::to_string(*m.max_message_size));
  }

 private:
  std::string out_;
};

}  // namespace

std::string Serialize(const SessionDescription& description) {
  Writer w;
  w.Session(description);
  for (const MediaDescription& m : description.media) w.Media(m);
  return w.Take();
}

}  // namespace tandem::sdp

// The peer list; each peer's file is compiled only when its library was found.
#include "peers/peer.hpp"

namespace tconv::bench {

#ifdef TCONV_HAVE_ONEDNN
Peer onednn_peer();
Peer onednn_plain_peer();
#endif
#ifdef TCONV_HAVE_XNNPACK
Peer xnnpack_peer();
#endif

const std::vector<Peer>& available_peers() {
  static const std::vector<Peer> peers{
#ifdef TCONV_HAVE_ONEDNN
      onednn_peer(), onednn_plain_peer(),
#endif
#ifdef TCONV_HAVE_XNNPACK
      xnnpack_peer(),
#endif
  };
  return peers;
}

std::vector<std::string> missing_peers() {
  std::vector<std::string> out;
#ifndef TCONV_HAVE_ONEDNN
  out.push_back("onednn (libdnnl-dev not found at build time)");
#endif
#ifndef TCONV_HAVE_XNNPACK
  out.push_back("xnnpack (libxnnpack-dev / pthreadpool not found at build time)");
#endif
  return out;
}

}  // namespace tconv::bench

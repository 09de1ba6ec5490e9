// Peer libraries timed beside tconv in `tconv bench`: one interface, one file per library.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tconv/tconv.hpp"

namespace tconv::bench {

// One peer primitive set up for one layer and thread count. run() is what gets timed;
// output() returns the last result in the layer's own layout (any conversion done outside run()).
class PeerInstance {
 public:
  virtual ~PeerInstance() = default;
  virtual void run() = 0;
  virtual std::vector<float> output() = 0;
  virtual std::string detail() const = 0;
  virtual size_t workspace_bytes() const { return 0; }
};

struct Peer {
  std::string name;
  // Null (and *why set) when the peer cannot run this layer.
  std::unique_ptr<PeerInstance> (*create)(const Params& p, const std::vector<float>& x,
                                          const std::vector<float>& w_pytorch,
                                          const std::vector<float>& bias, int threads,
                                          std::string* why);
};

// The peers this build found (oneDNN, XNNPACK), in a fixed order.
const std::vector<Peer>& available_peers();
// Names of peers this build could not find, with why (printed by `tconv bench`).
std::vector<std::string> missing_peers();

}  // namespace tconv::bench

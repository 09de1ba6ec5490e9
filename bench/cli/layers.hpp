// The layer suite format of bench/layers.csv (PyTorch ConvTranspose2d meaning).
#pragma once

#include <string>
#include <vector>

#include "tconv/tconv.hpp"

namespace tconv::bench {

struct Layer {
  std::string name;
  Params params;  // NCHW, PyTorch weights, with bias
};

// Reads name,N,Cin,Cout,H,W,kh,kw,sh,sw,ph,pw,oph,opw,dh,dw,groups. Throws Error naming the
// file, line and column on anything malformed.
std::vector<Layer> read_layers(const std::string& path);

}  // namespace tconv::bench

// Reading the layer suite CSV.
#include "cli/layers.hpp"

#include <fstream>
#include <sstream>

namespace tconv::bench {

std::vector<Layer> read_layers(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("--layers " + path + ": cannot open the file");
  static const char* kHeader = "name,N,Cin,Cout,H,W,kh,kw,sh,sw,ph,pw,oph,opw,dh,dw,groups";
  std::string line;
  std::vector<Layer> layers;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    if (line == kHeader) continue;
    std::vector<std::string> cells;
    std::stringstream s(line);
    std::string cell;
    while (std::getline(s, cell, ',')) cells.push_back(cell);
    const std::string where = path + ":" + std::to_string(line_no);
    if (cells.size() != 17) {
      throw Error(where + ": expected 17 columns (" + kHeader + "), got " + std::to_string(cells.size()));
    }
    int64_t v[17];
    for (size_t i = 1; i < 17; ++i) {
      try {
        size_t used = 0;
        v[i] = std::stoll(cells[i], &used);
        if (used != cells[i].size()) throw std::invalid_argument("trailing");
      } catch (const std::exception&) {
        throw Error(where + ": column " + std::to_string(i + 1) + " '" + cells[i] + "' is not an integer");
      }
    }
    PyTorchArgs a;
    a.in_channels = v[2];
    a.out_channels = v[3];
    a.kernel = {v[6], v[7]};
    a.stride = {v[8], v[9]};
    a.padding = {v[10], v[11]};
    a.output_padding = {v[12], v[13]};
    a.dilation = {v[14], v[15]};
    a.groups = v[16];
    a.bias = true;
    try {
      layers.push_back({cells[0], from_pytorch(a, v[1], {v[4], v[5]})});
    } catch (const Error& e) {
      throw Error(where + " (" + cells[0] + "): " + e.what());
    }
  }
  if (layers.empty()) throw Error("--layers " + path + ": no layers in the file");
  return layers;
}

}  // namespace tconv::bench

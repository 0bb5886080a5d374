// Reading a whole small file (certificates, keys, the tokens file).
#ifndef ACTIONJOURNAL_COMMON_FILE_H_
#define ACTIONJOURNAL_COMMON_FILE_H_

#include <string>

namespace actionjournal {

// The bytes of the file at `path` into `out`; false when it cannot be read.
bool ReadFile(const std::string& path, std::string* out);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_COMMON_FILE_H_

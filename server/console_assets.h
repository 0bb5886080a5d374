// The web console's files (server/console/), embedded in the server by
// server/console/embed.cmake.
#ifndef ACTIONJOURNAL_SERVER_CONSOLE_ASSETS_H_
#define ACTIONJOURNAL_SERVER_CONSOLE_ASSETS_H_

#include <string>
#include <vector>

namespace actionjournal {

struct ConsoleAsset {
  const char* path;  // the URL path it is served at
  const char* content_type;
  std::string body;
};

const std::vector<ConsoleAsset>& ConsoleAssets();

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_SERVER_CONSOLE_ASSETS_H_

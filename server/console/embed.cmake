# Writes OUT: a C++ source holding the console's files (server/console/), so
# that the server ships them (no CDN, nothing to install beside it).
set(body "")
foreach(entry "index.html|/|text/html; charset=utf-8"
              "console.js|/console.js|text/javascript; charset=utf-8"
              "console.css|/console.css|text/css; charset=utf-8")
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 file)
  list(GET parts 1 path)
  list(GET parts 2 type)
  file(READ "${DIR}/${file}" text)
  string(APPEND body "      {\"${path}\", \"${type}\", R\"aj_asset(${text})aj_asset\"},\n")
endforeach()
file(WRITE "${OUT}.tmp"
"// Generated from server/console/ by server/console/embed.cmake. Do not edit.
#include \"server/console_assets.h\"

namespace actionjournal {

const std::vector<ConsoleAsset>& ConsoleAssets() {
  static const auto* kAll = new std::vector<ConsoleAsset>{
${body}  };
  return *kAll;
}

}  // namespace actionjournal
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)

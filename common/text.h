// Text checks and escaping shared by the server and the client.
#ifndef ACTIONJOURNAL_COMMON_TEXT_H_
#define ACTIONJOURNAL_COMMON_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace actionjournal {

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing
// above U+10FFFF).
bool IsUtf8(absl::string_view s);

// `s` made safe for one log line: printable ASCII and well-formed UTF-8 stay;
// backslash, control characters (newlines included), DEL and bytes that are
// not UTF-8 become C escapes (\\, \n, \xNN), so that no client-supplied
// bytes can forge a line or a field.
std::string EscapeForLog(absl::string_view s);

// `s` as the inside of a JSON string literal (quotes not included); bytes
// that are not UTF-8 become \u00NN of their value.
std::string JsonEscape(absl::string_view s);

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_COMMON_TEXT_H_

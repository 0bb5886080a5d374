// Log lines cannot be forged by what they quote, JSON lines are JSON, and
// secrets never show.
#include "common/text.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "common/log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace actionjournal {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(TextTest, Utf8) {
  EXPECT_TRUE(IsUtf8(""));
  EXPECT_TRUE(IsUtf8("plain"));
  EXPECT_TRUE(IsUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsUtf8("\xff\xfe"));
  EXPECT_FALSE(IsUtf8("\xc3\x28"));          // bad continuation
  EXPECT_FALSE(IsUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsUtf8("\xe2\x82"));          // cut short
}

TEST(TextTest, EscapeForLogKeepsOneLine) {
  EXPECT_EQ(EscapeForLog("a\nERROR forged"), "a\\nERROR forged");
  EXPECT_EQ(EscapeForLog(std::string("a\0b\r\t\\\x7f\xff", 8)),
            "a\\x00b\\r\\t\\\\\\x7f\\xff");
  EXPECT_EQ(EscapeForLog("caf\xc3\xa9"), "caf\xc3\xa9");
}

TEST(TextTest, JsonEscape) {
  EXPECT_EQ(JsonEscape("say \"hi\"\n"), "say \\\"hi\\\"\\n");
  EXPECT_EQ(JsonEscape(std::string("\x01\xff", 2)), "\\u0001\\u00ff");
}

// Runs `f` with stderr going to a file; what it wrote.
template <typename F>
std::string CaptureStderr(F f) {
  char path[] = "/tmp/aj-log-XXXXXX";
  const int fd = mkstemp(path);
  const int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  f();
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string out;
  char buf[4096];
  lseek(fd, 0, SEEK_SET);
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, n);
  close(fd);
  unlink(path);
  return out;
}

TEST(LogTest, LinesAreEscapedStructuredAndMasked) {
  AddLogSecret("hunter2-secret");
  SetLogFormat(LogFormat::kText);
  std::string text = CaptureStderr([] {
    Log(LogLevel::kWarning, "bad key 'a\nINFO forged' from client",
        {{"key", "x\ny"}, {"dsn", "password=hunter2-secret"}});
  });
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  EXPECT_THAT(
      text, HasSubstr("WARN bad key 'a\\nINFO forged' from client key=x\\ny"));
  EXPECT_THAT(text, HasSubstr("dsn=password=***"));
  EXPECT_THAT(text, Not(HasSubstr("hunter2")));

  SetLogFormat(LogFormat::kJson);
  std::string json =
      CaptureStderr([] { LogError("multi\nline \"error\" hunter2-secret"); });
  SetLogFormat(LogFormat::kText);
  EXPECT_EQ(std::count(json.begin(), json.end(), '\n'), 1) << json;
  EXPECT_THAT(json, HasSubstr("\"level\":\"ERROR\""));
  EXPECT_THAT(json, HasSubstr("\"msg\":\"multi\\nline \\\"error\\\" ***\""));
}

}  // namespace
}  // namespace actionjournal

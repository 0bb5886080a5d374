#include "storage/compression.h"

#include <random>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace actionjournal {
namespace {

using ::actionjournal::testing::StatusIs;

// LLM-style output: prose in a JSON envelope, repetitive as model output is.
std::string LlmText(size_t bytes) {
  std::string out = R"({"role":"assistant","content":")";
  for (int i = 0; out.size() < bytes; ++i) {
    out += "The customer asked about order " + std::to_string(1000 + i % 97) +
           "; it shipped on Tuesday and should arrive within three days. ";
  }
  out.resize(bytes);
  return out;
}

std::string Random(size_t bytes) {
  std::mt19937 rng(7);
  std::string out(bytes, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

TEST(CompressionTest, LargeTextIsStoredCompressedAndReadBackExactly) {
  const std::string text = LlmText(64 * 1024);
  const std::string stored = EncodePayload(text, {});
  EXPECT_LT(stored.size(), text.size() / 4);
  EXPECT_EQ(stored.substr(0, 4), std::string("\xff"
                                             "AJ\x01",
                                             4));
  auto back = DecodePayload(stored);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, text);
}

TEST(CompressionTest, SmallAndIncompressiblePayloadsAreStoredAsSent) {
  const std::string small = LlmText(1023);
  EXPECT_EQ(EncodePayload(small, {}), small);
  std::string noise = Random(8192);
  noise[0] = 'x';
  EXPECT_EQ(EncodePayload(noise, {}), noise);
  EXPECT_EQ(*DecodePayload(noise), noise);
  CompressionOptions off;
  off.min_bytes = 0;
  const std::string text = LlmText(64 * 1024);
  EXPECT_EQ(EncodePayload(text, off), text);
  // Turned off, what was stored compressed still reads back.
  EXPECT_EQ(*DecodePayload(EncodePayload(text, {})), text);
}

TEST(CompressionTest, APayloadThatLooksEncodedRoundTrips) {
  for (const std::string& p : {std::string("\xff"
                                           "AJ\x01"
                                           "not a frame",
                                           15),
                               std::string("\xff"
                                           "AJ\x00"
                                           "x",
                                           5),
                               std::string("\xff"),
                               std::string("\xff"
                                           "AJ",
                                           3),
                               std::string("\xff"
                                           "AJ\x07"
                                           "z",
                                           5)}) {
    const std::string stored = EncodePayload(p, {});
    auto back = DecodePayload(stored);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, p);
  }
  // Rows stored before the format, or without compression: unchanged.
  EXPECT_EQ(*DecodePayload("plain"), "plain");
  EXPECT_EQ(*DecodePayload(std::string("\xff"
                                       "xyz",
                                       4)),
            std::string("\xff"
                        "xyz",
                        4));
}

TEST(CompressionTest, ACorruptFrameIsDataLossNotGarbage) {
  std::string stored = EncodePayload(LlmText(64 * 1024), {});
  stored.resize(stored.size() / 2);
  EXPECT_THAT(DecodePayload(stored),
              StatusIs(absl::StatusCode::kDataLoss, "stored payload"));
}

}  // namespace
}  // namespace actionjournal

// The PostgreSQL backend's SQL: every statement is prepared on each pooled
// connection, and a batch's rows travel as arrays (unnest($n::type[])), so
// that a batch costs the same round trips whatever its size.
#ifndef ACTIONJOURNAL_STORAGE_POSTGRES_STATEMENTS_H_
#define ACTIONJOURNAL_STORAGE_POSTGRES_STATEMENTS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/strings/string_view.h"

namespace actionjournal::postgres {

// Statement name -> SQL.
const std::map<std::string, std::string>& Statements();

// A PostgreSQL array literal, built element by element, for the
// unnest($n::type[]) parameters. Elements are quoted and escaped by the
// array syntax's rules; the literal goes as one parameter value, never as
// SQL.
class ArrayLiteral {
 public:
  ArrayLiteral& Text(absl::string_view s);
  ArrayLiteral& Bytes(absl::string_view b);  // bytea, hex form
  ArrayLiteral& Int(int64_t v);
  ArrayLiteral& Null();
  std::string Done() const { return out_ + "}"; }
  bool empty() const { return out_.size() == 1; }

 private:
  void Separate();
  std::string out_ = "{";
};

}  // namespace actionjournal::postgres

#endif  // ACTIONJOURNAL_STORAGE_POSTGRES_STATEMENTS_H_

// The PostgreSQL schema's versioned migrations (migrations/NNNN_*.sql),
// compiled into the binary so that a server applies them without files.
#ifndef ACTIONJOURNAL_STORAGE_POSTGRES_MIGRATIONS_H_
#define ACTIONJOURNAL_STORAGE_POSTGRES_MIGRATIONS_H_

#include <vector>

namespace actionjournal {

struct Migration {
  int version;       // NNNN of the file name
  const char* name;  // the file name
  const char* sql;
};

// Every migration, by ascending version.
const std::vector<Migration>& Migrations();

}  // namespace actionjournal

#endif  // ACTIONJOURNAL_STORAGE_POSTGRES_MIGRATIONS_H_

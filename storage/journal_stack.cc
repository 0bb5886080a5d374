#include "storage/journal_stack.h"

#include <utility>

#include "storage/compression.h"

namespace actionjournal {

std::unique_ptr<JournalStore> NewJournalStore(std::unique_ptr<Backend> backend,
                                              JournalOptions options,
                                              JournalObserver* observer) {
  std::unique_ptr<Backend> compressed =
      WithCompression(std::move(backend), options.compression, observer);
  return NewJournal(std::move(compressed), std::move(options), observer);
}

}  // namespace actionjournal

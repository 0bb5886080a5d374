#include "storage/backend.h"

#include <algorithm>
#include <utility>

namespace actionjournal {

ReadSet::Item& ReadSet::ItemOf(const RecordId& record) {
  auto at = std::lower_bound(
      items_.begin(), items_.end(), record,
      [](const Item& item, const RecordId& r) { return item.record < r; });
  if (at == items_.end() || !(at->record == record)) {
    Item fresh;
    fresh.record = record;
    at = items_.insert(at, std::move(fresh));
  }
  return *at;
}

void ReadSet::Add(const RecordId& record, const std::string* action_key) {
  Item& item = ItemOf(record);
  if (action_key == nullptr) {
    item.all_actions = true;
    item.action_keys.clear();
  } else if (!item.all_actions) {
    auto at = std::lower_bound(item.action_keys.begin(), item.action_keys.end(),
                               *action_key);
    if (at == item.action_keys.end() || *at != *action_key) {
      item.action_keys.insert(at, *action_key);
    }
  }
}

void ReadSet::AddRecord(const RecordId& record) { ItemOf(record); }

}  // namespace actionjournal

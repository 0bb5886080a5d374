#include "storage/backend.h"

#include <algorithm>

namespace actionjournal {

void ReadSet::Add(const RecordId& record, const std::string* action_key) {
  Item& item = by_record_[record];
  item.record = record;
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
  dirty_ = true;
}

void ReadSet::AddRecord(const RecordId& record) {
  by_record_[record].record = record;
  dirty_ = true;
}

const std::vector<ReadSet::Item>& ReadSet::items() const {
  if (dirty_) {
    items_.clear();
    for (const auto& [id, item] : by_record_) items_.push_back(item);
    dirty_ = false;
  }
  return items_;
}

}  // namespace actionjournal

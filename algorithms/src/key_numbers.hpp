// Internal: numbers distinct keys 0, 1, 2, ... in the order they are first seen, in an open-addressing
// table (linear probing, no node per key). For the million segments or points of a detailed
// boundary, where std::unordered_map's allocations and sorting 40-byte records cost seconds.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace civgrid::algorithms::detail {

/// A segment by the coordinates of its ends; callers put the lesser end first (x, then y) so both
/// directions of an edge make one key.
struct SegmentKey {
    double x1, y1, x2, y2;
    bool operator==(const SegmentKey&) const = default;
};
/// FNV-1a over the four coordinates, mixed; -0.0 and 0.0 (equal under ==) hash alike.
struct SegmentHash {
    std::uint64_t operator()(const SegmentKey& k) const noexcept {
        std::uint64_t h = 1469598103934665603ULL;
        for (double d : {k.x1, k.y1, k.x2, k.y2}) h = (h ^ std::bit_cast<std::uint64_t>(d + 0.0)) * 1099511628211ULL;
        return h ^ (h >> 29);
    }
};

/// `Hash` gives a 64-bit hash of a Key; `==` compares keys. Not thread-safe.
template <class Key, class Hash>
class KeyNumbers {
public:
    explicit KeyNumbers(std::size_t expected = 0) {
        keys_.reserve(expected);
        slots_.assign(std::bit_ceil(std::max<std::size_t>(16, 2 * expected)), 0);
    }

    /// The number of `key` and whether it was seen now for the first time.
    std::pair<std::uint32_t, bool> number(const Key& key) {
        if (2 * (keys_.size() + 1) > slots_.size()) grow();
        for (std::size_t i = slot_of(key);; i = (i + 1) & (slots_.size() - 1)) {
            const std::uint32_t s = slots_[i];
            if (s == 0) {
                keys_.push_back(key);
                slots_[i] = static_cast<std::uint32_t>(keys_.size());
                return {static_cast<std::uint32_t>(keys_.size() - 1), true};
            }
            if (keys_[s - 1] == key) return {s - 1, false};
        }
    }

    /// The number of `key`, if it was seen.
    [[nodiscard]] std::optional<std::uint32_t> find(const Key& key) const {
        for (std::size_t i = slot_of(key);; i = (i + 1) & (slots_.size() - 1)) {
            const std::uint32_t s = slots_[i];
            if (s == 0) return std::nullopt;
            if (keys_[s - 1] == key) return s - 1;
        }
    }

    [[nodiscard]] std::size_t size() const noexcept { return keys_.size(); }
    [[nodiscard]] const Key& key(std::uint32_t number) const { return keys_[number]; }

private:
    [[nodiscard]] std::size_t slot_of(const Key& key) const noexcept {
        std::uint64_t h = Hash{}(key);  // splitmix64's finaliser: every bit of the hash reaches the low ones
        h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ULL;
        h = (h ^ (h >> 27)) * 0x94D049BB133111EBULL;
        h ^= h >> 31;
        return static_cast<std::size_t>(h) & (slots_.size() - 1);
    }
    void grow() {
        std::vector<std::uint32_t> old(2 * slots_.size(), 0);
        slots_.swap(old);
        for (std::uint32_t s : old)
            if (s != 0) {
                std::size_t i = slot_of(keys_[s - 1]);
                while (slots_[i] != 0) i = (i + 1) & (slots_.size() - 1);
                slots_[i] = s;
            }
    }

    std::vector<Key> keys_;
    std::vector<std::uint32_t> slots_;  // 1 + number, 0 when empty
};

}  // namespace civgrid::algorithms::detail

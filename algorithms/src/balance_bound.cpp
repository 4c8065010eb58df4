#include <civgrid/algorithms/balance_bound.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <utility>

namespace civgrid::algorithms {

bool is_within(std::int64_t households, double target, double share) {
    return target > 0 && std::abs(static_cast<double>(households) - target) / target <= share + 1e-12;
}

WithinRange bounds_range(double lower, double upper) {
    return {std::max<std::int64_t>(0, static_cast<std::int64_t>(std::ceil(lower - 1e-9))),
            static_cast<std::int64_t>(std::floor(upper + 1e-9))};
}

WithinRange within_range(double target, double share) {
    if (!(target > 0) || !std::isfinite(target)) return {};
    // The quality report counts |h - target| / target <= share + 1e-12.
    const double slack = share + 1e-12;
    WithinRange range{static_cast<std::int64_t>(std::ceil(target * (1 - slack))),
                      static_cast<std::int64_t>(std::floor(target * (1 + slack)))};
    range.low = std::max<std::int64_t>(range.low, 0);
    // Rounding at the edges: keep only integers the report's own test accepts.
    while (range.low <= range.high && !is_within(range.low, target, share)) ++range.low;
    while (range.high >= range.low && !is_within(range.high, target, share)) --range.high;
    return range;
}

int best_within_in_piece(std::int64_t households, int parts, WithinRange range) {
    if (parts <= 0 || range.low > range.high || households < 0) return 0;
    const auto k = static_cast<std::int64_t>(parts);
    // All within: k parts of low..high each hold exactly the integers k * low..k * high.
    if (k * range.low <= households && households <= k * range.high) return parts;
    // Otherwise one part at least is outside and takes any remainder (or nothing): w parts within
    // need w * low households at most.
    const std::int64_t fit = range.low > 0 ? households / range.low : k - 1;
    return static_cast<int>(std::min<std::int64_t>(k - 1, fit));
}

int best_within(const std::vector<std::int64_t>& piece_households, int count, double target, double share) {
    const auto pieces = static_cast<std::int64_t>(piece_households.size());
    if (pieces == 0 || count < pieces) return 0;
    const WithinRange range = within_range(target, share);
    if (range.low > range.high) return 0;
    // Within = count - losses. A piece of H households given k parts loses nothing when
    // k is in [a, b] = [ceil(H / high), floor(H / low)] (all its parts within), one when k < a
    // or when no k works (a > b) and k <= b + 1, and k - b when k > b (parts beyond b are
    // wasted). So: each piece at its cheapest counts [L, U]; parts beyond the sum of U cost one
    // each, wherever they go; a shortfall below the sum of L is taken from the pieces that can
    // give most (a piece at 1..a-1 loses one, however far below a).
    std::int64_t losses = 0, lowest = 0, highest = 0;
    std::vector<std::int64_t> can_give;  // a - 1 of the pieces that lose nothing at [a, b]
    for (const std::int64_t households : piece_households) {
        const std::int64_t a = range.high > 0 ? (households + range.high - 1) / range.high : households + 1;
        const std::int64_t b = range.low > 0 ? households / range.low : std::numeric_limits<std::int64_t>::max() / 4;
        if (a >= 1 && a <= b) {
            lowest += a;
            highest += b;
            can_give.push_back(a - 1);
        } else {
            ++losses;
            lowest += 1;
            highest += std::max<std::int64_t>(b, 0) + 1;
        }
    }
    if (count > highest) {
        losses += count - highest;
    } else if (count < lowest) {
        std::int64_t shortfall = lowest - count;
        std::sort(can_give.begin(), can_give.end(), std::greater<>());
        for (const std::int64_t give : can_give) {
            if (shortfall <= 0) break;
            ++losses;
            shortfall -= give;
        }
    }
    return static_cast<int>(std::max<std::int64_t>(0, count - losses));
}

int best_within_in_piece_bounded(std::int64_t households, int parts, WithinRange range, WithinRange bounds) {
    if (parts <= 0 || households < 0) return 0;
    const auto k = static_cast<std::int64_t>(parts);
    if (bounds.low > bounds.high || households < k * bounds.low || households > k * bounds.high)
        return best_within_in_piece(households, parts, range);
    if (range.low > range.high) return 0;
    // j within the window and k - j anywhere within the bounds hold exactly the integers
    // j * low + (k - j) * bounds.low .. j * high + (k - j) * bounds.high (each part an interval).
    for (std::int64_t j = k; j > 0; --j)
        if (j * range.low + (k - j) * bounds.low <= households && households <= j * range.high + (k - j) * bounds.high)
            return static_cast<int>(j);
    return 0;
}

int best_within_bounded(const std::vector<std::int64_t>& piece_households, int count, double target, double lower,
                        double upper, double share) {
    const std::size_t pieces = piece_households.size();
    if (pieces == 0 || count < static_cast<int>(pieces)) return 0;
    const WithinRange range = within_range(target, share);
    if (range.low > range.high) return 0;
    const double work = static_cast<double>(pieces) * static_cast<double>(count) * static_cast<double>(count);
    if (work > 2e7 || !(lower <= upper)) return best_within(piece_households, count, target, share);
    const WithinRange bounds = bounds_range(lower, upper);
    // best[c]: the most within for the pieces so far with c micro-grids among them (-1: none).
    std::vector<int> best(static_cast<std::size_t>(count) + 1, -1), next(best.size());
    best[0] = 0;
    for (std::size_t i = 0; i < pieces; ++i) {
        std::fill(next.begin(), next.end(), -1);
        for (int c = 0; c <= count; ++c) {
            if (best[static_cast<std::size_t>(c)] < 0) continue;
            for (int k = 1; c + k <= count; ++k) {
                const int value = best[static_cast<std::size_t>(c)] +
                                  best_within_in_piece_bounded(piece_households[i], k, range, bounds);
                next[static_cast<std::size_t>(c + k)] = std::max(next[static_cast<std::size_t>(c + k)], value);
            }
        }
        best.swap(next);
    }
    return std::max(best[static_cast<std::size_t>(count)], 0);
}

namespace {

// The most within for `count` micro-grids among the pieces, piece i giving value[i][k] with k
// micro-grids (k = 1 .. value[i].size() - 1, at least one each); -1 when the count cannot be shared.
int best_sharing(const std::vector<std::vector<int>>& value, int count) {
    if (value.size() == 1)
        return count < static_cast<int>(value[0].size()) ? value[0][static_cast<std::size_t>(count)] : -1;
    std::vector<int> best(static_cast<std::size_t>(count) + 1, -1), next(best.size());
    best[0] = 0;
    for (const std::vector<int>& piece : value) {
        std::fill(next.begin(), next.end(), -1);
        for (int c = 0; c <= count; ++c) {
            if (best[static_cast<std::size_t>(c)] < 0) continue;
            for (int k = 1; c + k <= count && k < static_cast<int>(piece.size()); ++k)
                next[static_cast<std::size_t>(c + k)] =
                    std::max(next[static_cast<std::size_t>(c + k)],
                             best[static_cast<std::size_t>(c)] + piece[static_cast<std::size_t>(k)]);
        }
        best.swap(next);
    }
    return best[static_cast<std::size_t>(count)];
}

// Exact whole-unit values for few units: over subsets `mask` of them, `most[mask]` is the most
// disjoint groups with sums in `range` inside mask, `exact[mask]` the bitset of j such that mask
// splits into exactly j such groups. Each step takes the lowest unit of mask either as left over or
// with any subset of the others as one group: 3^n steps in all.
std::vector<int> whole_by_subsets(const std::vector<std::int64_t>& units, int max_parts, WithinRange range) {
    const std::size_t n = units.size();
    const std::size_t masks = std::size_t{1} << n;
    std::vector<std::int64_t> sum(masks, 0);
    for (std::size_t mask = 1; mask < masks; ++mask) {
        const std::size_t low = mask & (~mask + 1);
        sum[mask] = sum[mask ^ low] + units[static_cast<std::size_t>(std::countr_zero(low))];
    }
    std::vector<int> most(masks, 0);
    std::vector<std::uint32_t> exact(masks, 0);
    exact[0] = 1;  // the empty set splits into zero groups
    for (std::size_t mask = 1; mask < masks; ++mask) {
        const std::size_t low = mask & (~mask + 1), others = mask ^ low;
        int best = most[others];
        std::uint32_t splits = 0;
        for (std::size_t sub = others;; sub = (sub - 1) & others) {
            const std::size_t group = sub | low;
            if (sum[group] >= range.low && sum[group] <= range.high) {
                best = std::max(best, 1 + most[mask ^ group]);
                splits |= exact[mask ^ group] << 1;
            }
            if (sub == 0) break;
        }
        most[mask] = best;
        exact[mask] = splits;
    }
    const std::size_t all = masks - 1;
    std::vector<int> value(static_cast<std::size_t>(max_parts) + 1, 0);
    for (int k = 1; k <= max_parts; ++k) {
        const bool all_within = static_cast<std::size_t>(k) <= n && ((exact[all] >> k) & 1U) != 0;
        value[static_cast<std::size_t>(k)] = all_within ? k : std::min(most[all], k - 1);
    }
    return value;
}

// Exact values for one, two and three micro-grids of a piece of many units, by subset sums (a
// dynamic programme pseudo-polynomial in the piece's households, not exponential in its units):
// `pairs[a]` is the bitset of b such that two disjoint groups of units hold a and b households.
// Also `most`: at most how many disjoint groups within `range` the units make (0, 1, 2, or more
// when 3 is returned), which bounds the piece at every count.
struct FewParts {
    std::array<int, 4> value{};  // by count, 1..3
    int most = std::numeric_limits<int>::max();
};

FewParts few_parts_by_subset_sums(const std::vector<std::int64_t>& units, std::int64_t households, WithinRange range) {
    const auto width = static_cast<std::size_t>(households) + 1;
    const std::size_t words = (width + 63) / 64;
    std::vector<std::uint64_t> pairs(width * words, 0);
    const auto row = [&](std::size_t a) { return pairs.data() + a * words; };
    row(0)[0] = 1;  // two empty groups
    std::vector<std::uint64_t> shifted(words);
    for (const std::int64_t unit : units) {
        const auto w = static_cast<std::size_t>(unit);
        if (w == 0) continue;
        const std::size_t word_shift = w / 64, bit_shift = w % 64;
        // Descending a, so row(a - w) is still the one before this unit: each unit joins one group
        // (a), the other (b, a shift of the row) or neither.
        for (std::size_t a = width; a-- > 0;) {
            std::uint64_t* current = row(a);
            for (std::size_t i = words; i-- > 0;) {
                std::uint64_t bits = 0;
                if (i >= word_shift) {
                    bits = current[i - word_shift] << bit_shift;
                    if (bit_shift != 0 && i > word_shift) bits |= current[i - word_shift - 1] >> (64 - bit_shift);
                }
                shifted[i] = bits;
            }
            const std::uint64_t* before = a >= w ? row(a - w) : nullptr;
            for (std::size_t i = 0; i < words; ++i) current[i] |= shifted[i] | (before != nullptr ? before[i] : 0);
        }
    }
    const auto has = [&](std::int64_t a, std::int64_t b) {
        if (a < 0 || b < 0 || a > households || b > households) return false;
        const auto bit = static_cast<std::size_t>(b);
        return ((row(static_cast<std::size_t>(a))[bit / 64] >> (bit % 64)) & 1U) != 0;
    };
    const auto inside = [&](std::int64_t h) { return h >= range.low && h <= range.high; };
    bool one = false, two = false, two_all = false, three_all = false;
    for (std::int64_t a = range.low; a <= std::min(range.high, households); ++a) {
        one = one || has(a, 0);
        two_all = two_all || (has(a, 0) && inside(households - a));
        for (std::int64_t b = range.low; b <= std::min(range.high, households - a); ++b)
            if (has(a, b)) {
                two = true;
                three_all = three_all || inside(households - a - b);
            }
    }
    FewParts result;
    if (!two) result.most = one ? 1 : 0;  // with two, more is not known
    result.value[1] = inside(households) ? 1 : 0;
    result.value[2] = two_all ? 2 : one ? 1 : 0;
    result.value[3] = three_all ? 3 : two ? 2 : one ? 1 : 0;
    return result;
}

}  // namespace

std::vector<int> best_within_whole_in_piece(std::vector<std::int64_t> unit_households, int max_parts, WithinRange range,
                                            int exact_units) {
    max_parts = std::max(max_parts, 0);
    std::vector<int> value(static_cast<std::size_t>(max_parts) + 1, 0);
    if (range.low > range.high) return value;
    std::int64_t households = 0;
    for (const std::int64_t h : unit_households) households += std::max<std::int64_t>(h, 0);
    for (int k = 1; k <= max_parts; ++k)
        value[static_cast<std::size_t>(k)] = best_within_in_piece(households, k, range);
    // An empty micro-grid counts as within when low is 0: the divisible bound already covers that.
    if (range.low <= 0) return value;
    // Units without households go anywhere and change no sum.
    std::erase_if(unit_households, [](std::int64_t h) { return h <= 0; });
    if (static_cast<int>(unit_households.size()) <= std::min(exact_units, 16)) {
        const std::vector<int> exact = whole_by_subsets(unit_households, max_parts, range);
        for (int k = 1; k <= max_parts; ++k)
            value[static_cast<std::size_t>(k)] =
                std::min(value[static_cast<std::size_t>(k)], exact[static_cast<std::size_t>(k)]);
        return value;
    }
    // Relaxation. Units above high fit no micro-grid within; two above high / 2 never share one.
    // Of j disjoint groups within, j1 hold one such "half" unit each and need at least low - w more
    // from the small units, the other j - j1 at least low from them: so j is at most the best over
    // j1 of j1 + (small households - the j1 least such deficits) / low.
    std::int64_t small = 0;
    bool over = false;
    std::vector<std::int64_t> deficits;
    for (const std::int64_t h : unit_households) {
        if (h > range.high)
            over = true;
        else if (2 * h > range.high)
            deficits.push_back(std::max<std::int64_t>(0, range.low - h));
        else
            small += h;
    }
    std::sort(deficits.begin(), deficits.end());
    std::int64_t most = small / range.low, fill = 0;
    for (std::size_t j1 = 1; j1 <= deficits.size(); ++j1) {
        fill += deficits[j1 - 1];
        if (fill > small) break;
        most = std::max(most, static_cast<std::int64_t>(j1) + (small - fill) / range.low);
    }
    const auto halves = static_cast<std::int64_t>(deficits.size());
    for (int k = 1; k <= max_parts; ++k) {
        // All k within: every unit in one of them, each half unit in its own.
        const bool all_within = !over && halves <= k && k * range.low <= households && households <= k * range.high;
        const std::int64_t whole = all_within ? k : std::min<std::int64_t>(most, k - 1);
        value[static_cast<std::size_t>(k)] =
            static_cast<int>(std::min<std::int64_t>(value[static_cast<std::size_t>(k)], whole));
    }
    // A piece of a few micro-grids' households (a river's sliver, a block between major roads):
    // its values for one to three micro-grids exactly, by subset sums, and the most disjoint groups
    // within for every count. Above 4 x high households the piece takes more micro-grids and its
    // units are small against them, where the relaxation above is near enough.
    if (households <= 4 * range.high) {
        const FewParts few = few_parts_by_subset_sums(unit_households, households, range);
        for (int k = 1; k <= max_parts; ++k) {
            int& at = value[static_cast<std::size_t>(k)];
            at = std::min(at, k <= 3 ? few.value[static_cast<std::size_t>(k)] : few.most);
        }
    }
    return value;
}

namespace {

// best_within_whole and its bounded form: per piece the whole-unit values (less, with `bounds`,
// best_within_in_piece_bounded's), shared by best_sharing.
int whole_units_bound(const std::vector<std::vector<std::int64_t>>& piece_units, int count, WithinRange range,
                      const WithinRange* bounds) {
    const std::size_t pieces = piece_units.size();
    const int max_parts = count - static_cast<int>(pieces) + 1;
    std::vector<std::vector<int>> value;
    value.reserve(pieces);
    for (const std::vector<std::int64_t>& units : piece_units) {
        std::vector<int> piece = best_within_whole_in_piece(units, max_parts, range);
        if (bounds != nullptr) {
            const std::int64_t households = std::accumulate(units.begin(), units.end(), std::int64_t{0});
            for (int k = 1; k <= max_parts; ++k)
                piece[static_cast<std::size_t>(k)] = std::min(
                    piece[static_cast<std::size_t>(k)], best_within_in_piece_bounded(households, k, range, *bounds));
        }
        value.push_back(std::move(piece));
    }
    return std::max(best_sharing(value, count), 0);
}

std::vector<std::int64_t> households_of(const std::vector<std::vector<std::int64_t>>& piece_units) {
    std::vector<std::int64_t> households;
    households.reserve(piece_units.size());
    for (const std::vector<std::int64_t>& units : piece_units)
        households.push_back(std::accumulate(units.begin(), units.end(), std::int64_t{0}));
    return households;
}

bool too_costly(std::size_t pieces, int count) {
    return static_cast<double>(pieces) * static_cast<double>(count) * static_cast<double>(count) > 2e7;
}

}  // namespace

int best_within_whole(const std::vector<std::vector<std::int64_t>>& piece_units, int count, double target, double share,
                      double max_steps) {
    const std::size_t pieces = piece_units.size();
    if (pieces == 0 || count < static_cast<int>(pieces)) return 0;
    const WithinRange range = within_range(target, share);
    if (range.low > range.high) return 0;
    const std::vector<std::int64_t> households = households_of(piece_units);
    const int divisible = best_within(households, count, target, share);
    if (range.low <= 0) return divisible;
    // A piece's value never falls as it gets more micro-grids and stops rising by households / low
    // + 1 (none within holds fewer than low): each piece is searched up to there, and the parts
    // the pieces do not use go anywhere, changing nothing.
    std::vector<std::vector<int>> value;
    value.reserve(pieces);
    double parts = 0;
    for (std::size_t i = 0; i < pieces; ++i) {
        const std::int64_t useful =
            std::min<std::int64_t>(count - static_cast<int>(pieces) + 1, households[i] / range.low + 1);
        value.push_back(best_within_whole_in_piece(piece_units[i], static_cast<int>(useful), range));
        parts += static_cast<double>(useful);
    }
    const double reach = std::min(parts, static_cast<double>(count));
    if (pieces == 1 || parts * reach <= max_steps) {
        // best[c]: the most within for the pieces so far with c micro-grids among them.
        std::vector<int> best(static_cast<std::size_t>(reach) + 1, -1), next(best.size());
        best[0] = 0;
        int reached = 0;
        for (const std::vector<int>& piece : value) {
            std::fill(next.begin(), next.end(), -1);
            const int last = static_cast<int>(best.size()) - 1;
            for (int c = 0; c <= std::min(reached, last); ++c) {
                if (best[static_cast<std::size_t>(c)] < 0) continue;
                for (int k = 1; c + k <= last && k < static_cast<int>(piece.size()); ++k)
                    next[static_cast<std::size_t>(c + k)] =
                        std::max(next[static_cast<std::size_t>(c + k)],
                                 best[static_cast<std::size_t>(c)] + piece[static_cast<std::size_t>(k)]);
            }
            reached += static_cast<int>(piece.size()) - 1;
            best.swap(next);
        }
        return std::min(divisible, std::max(0, *std::max_element(best.begin(), best.end())));
    }
    // Too many pieces and parts for that: the Lagrangian relaxation of "count parts at most", an
    // upper bound for every multiplier lambda >= 0 (lambda x count + the sum over pieces of the best
    // value - lambda x parts), the least over a grid of multipliers.
    double least = std::numeric_limits<double>::infinity();
    for (int step = 0; step <= 128; ++step) {
        const double lambda = step / 64.0;
        double bound = lambda * count;
        for (const std::vector<int>& piece : value) {
            double top = -std::numeric_limits<double>::infinity();
            for (std::size_t k = 1; k < piece.size(); ++k)
                top = std::max(top, piece[k] - lambda * static_cast<double>(k));
            bound += top;
        }
        least = std::min(least, bound);
    }
    return std::min(divisible, std::max(0, static_cast<int>(std::floor(least + 1e-9))));
}

int best_within_whole_bounded(const std::vector<std::vector<std::int64_t>>& piece_units, int count, double target,
                              double lower, double upper, double share) {
    const std::size_t pieces = piece_units.size();
    if (pieces == 0 || count < static_cast<int>(pieces)) return 0;
    const WithinRange range = within_range(target, share);
    if (range.low > range.high) return 0;
    if ((pieces > 1 && too_costly(pieces, count)) || !(lower <= upper))  // both bounds hold for such plans
        return std::min(best_within_bounded(households_of(piece_units), count, target, lower, upper, share),
                        best_within_whole(piece_units, count, target, share));
    const WithinRange bounds = bounds_range(lower, upper);
    return whole_units_bound(piece_units, count, range, &bounds);
}

std::vector<int> share_by_households(const std::vector<double>& households, int total) {
    const std::size_t pieces = households.size();
    std::vector<int> counts(pieces, 1);
    const double sum = std::accumulate(households.begin(), households.end(), 0.0);
    if (pieces == 0 || total <= static_cast<int>(pieces) || sum <= 0) return counts;
    std::vector<double> quota(pieces);
    int assigned = 0;
    for (std::size_t p = 0; p < pieces; ++p) {
        quota[p] = households[p] / sum * total;
        counts[p] = std::max(1, static_cast<int>(std::floor(quota[p])));
        assigned += counts[p];
    }
    while (assigned > total) {  // minimum-one pieces took more than the floor allowed
        std::size_t pick = pieces;
        for (std::size_t p = 0; p < pieces; ++p)
            if (counts[p] > 1 && (pick == pieces || counts[p] - quota[p] > counts[pick] - quota[pick])) pick = p;
        if (pick == pieces) break;
        --counts[pick];
        --assigned;
    }
    while (assigned < total) {
        std::size_t pick = 0;
        for (std::size_t p = 1; p < pieces; ++p)
            if (quota[p] - counts[p] > quota[pick] - counts[pick]) pick = p;
        ++counts[pick];
        ++assigned;
    }
    return counts;
}

std::vector<int> share_count(const std::vector<double>& piece_households, int total, double target, double lower,
                             double upper) {
    const std::size_t pieces = piece_households.size();
    if (pieces == 0 || total <= static_cast<int>(pieces)) return std::vector<int>(pieces, 1);
    const WithinRange range = within_range(target);
    const double work = static_cast<double>(pieces) * static_cast<double>(total) * static_cast<double>(total);
    if (range.low > range.high || !(target > 0) || work > 2e7) return share_by_households(piece_households, total);
    // Cost of giving piece i k parts: each micro-grid it could not have within counts 1; of
    // equally good sharings, the one with the fewest micro-grids in pieces whose average lies
    // near an edge of the window wins, then the one with averages nearest the target, then the
    // one the loop meets first (stable). In a piece whose average is within a few households of
    // the window's edge every micro-grid must hold nearly the same households: its parts are
    // packed building by building rather than grown (strips, Polsby-Popper 0.61 against 0.67 with
    // room), and they often miss the count the bound allows anyway (bench/README.md, "Room in
    // the pieces"). With balance bounds given, the micro-grids within that the sharing would lose
    // by keeping them (best_within_in_piece_bounded), and a piece that cannot keep them at all,
    // weigh about as much as the room: the bound counts plans that put one micro-grid of a small
    // piece beyond the bounds so that its others are within, which refinement, keeping them, does
    // not make (bench/README.md, "Plans for pieces averaging outside the window"). The tie-breaks
    // together stay below one micro-grid over all the pieces (tight: 0.35 in all; keeping the
    // bounds: 0.3, as a piece loses at most its k and one; nearness: 1e-3 a piece, and pieces x
    // total^2 <= 2e7 keeps pieces < 272), so they never cost a micro-grid the bound counts.
    constexpr double kRoomWanted = 0.05;  // of the target: half the window's half-width
    const double tight_weight = 0.35 / static_cast<double>(total);
    const bool with_bounds = lower > 0 && upper >= lower;
    const WithinRange bounds = bounds_range(lower, upper);
    const double bounds_weight = with_bounds ? 0.3 / static_cast<double>(total + static_cast<int>(pieces)) : 0.0;
    const auto cost = [&](std::size_t i, int k) {
        const auto households = static_cast<std::int64_t>(std::llround(piece_households[i]));
        const int within = best_within_in_piece(households, k, range);
        double lost = static_cast<double>(k - within);
        if (with_bounds) {
            const bool forced = households < k * bounds.low || households > k * bounds.high;
            lost += bounds_weight *
                    (static_cast<double>(within - best_within_in_piece_bounded(households, k, range, bounds)) +
                     (forced ? 1.0 : 0.0));
        }
        const double average = piece_households[i] / k;
        const double room =
            std::min(static_cast<double>(range.high) - average, average - static_cast<double>(range.low));
        // A piece whose average lies outside the window loses micro-grids the bound counts
        // anyway; how far out is the nearness's business (a piece of 655 households in 4 parts
        // of 164 is no better than in 8 of 82 for having no tight piece).
        const double tight = room < 0 ? 0.0 : std::clamp((kRoomWanted - room / target) / kRoomWanted, 0.0, 1.0);
        const double off = (average - target) / target;
        return lost + tight_weight * static_cast<double>(k) * tight +
               1e-3 * std::min(1.0, static_cast<double>(k) * off * off);
    };
    const auto slots = static_cast<std::size_t>(total) + 1;
    constexpr double kNever = std::numeric_limits<double>::infinity();
    std::vector<double> best(slots, kNever), next(slots);
    std::vector<std::vector<int>> choice(pieces, std::vector<int>(slots, 0));
    best[0] = 0;
    for (std::size_t i = 0; i < pieces; ++i) {
        std::fill(next.begin(), next.end(), kNever);
        const int after = static_cast<int>(pieces - i - 1);  // pieces still to come, one part each
        for (int c = static_cast<int>(i) + 1; c <= total - after; ++c)
            for (int k = 1; k <= c - static_cast<int>(i); ++k) {
                const double before = best[static_cast<std::size_t>(c - k)];
                if (before == kNever) continue;
                const double value = before + cost(i, k);
                if (value < next[static_cast<std::size_t>(c)] - 1e-12) {
                    next[static_cast<std::size_t>(c)] = value;
                    choice[i][static_cast<std::size_t>(c)] = k;
                }
            }
        best.swap(next);
    }
    std::vector<int> counts(pieces, 1);
    int left = total;
    for (std::size_t i = pieces; i-- > 0;) {
        counts[i] = choice[i][static_cast<std::size_t>(left)];
        left -= counts[i];
    }
    return counts;
}

}  // namespace civgrid::algorithms

#include <civgrid/algorithms/balance_bound.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

namespace civgrid::algorithms {

bool is_within(std::int64_t households, double target, double share) {
    return target > 0 && std::abs(static_cast<double>(households) - target) / target <= share + 1e-12;
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
    const WithinRange bounds{std::max<std::int64_t>(0, static_cast<std::int64_t>(std::ceil(lower - 1e-9))),
                             static_cast<std::int64_t>(std::floor(upper + 1e-9))};
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

std::vector<int> share_count(const std::vector<double>& piece_households, int total, double target) {
    const std::size_t pieces = piece_households.size();
    if (pieces == 0 || total <= static_cast<int>(pieces)) return std::vector<int>(pieces, 1);
    const WithinRange range = within_range(target);
    const double work = static_cast<double>(pieces) * static_cast<double>(total) * static_cast<double>(total);
    if (range.low > range.high || !(target > 0) || work > 2e7) return share_by_households(piece_households, total);
    // Cost of giving piece i k parts: each micro-grid it could not have within counts 1, plus
    // (much less) how far its average lies from the target, so that of equally good sharings the
    // one with averages nearest the target wins, then the one the loop meets first (stable).
    const auto cost = [&](std::size_t i, int k) {
        const auto households = static_cast<std::int64_t>(std::llround(piece_households[i]));
        const double lost = static_cast<double>(k - best_within_in_piece(households, k, range));
        const double off = (piece_households[i] / k - target) / target;
        return lost + 1e-3 * std::min(1.0, static_cast<double>(k) * off * off);
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

#include <civgrid/algorithms/balance_bound.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

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

}  // namespace civgrid::algorithms

// Internal to io/: decoding attribute text of any encoding into valid UTF-8 (iconv), detecting
// UTF-8 versus GB18030, and handling characters that a byte-limited DBF field cut in half.
#pragma once

#include <iconv.h>

#include <string>
#include <string_view>

namespace civgrid::io::detail {

/// The text as UTF-8, and what had to be done to get there.
struct Decoded {
    std::string text;
    bool truncated = false;  ///< an incomplete last character (a field cut at its byte width) was removed
    bool invalid = false;    ///< bytes invalid in the encoding were replaced with U+FFFD
};

/// Whether `text` is UTF-8; an incomplete last character is accepted when `allow_cut_tail`.
[[nodiscard]] bool is_utf8(std::string_view text, bool allow_cut_tail);
/// Only ASCII bytes.
[[nodiscard]] bool is_ascii(std::string_view text) noexcept;

/// How plausible `text` is in one of the East Asian double-byte encodings civgrid tells apart by
/// content (GB18030, BIG5, CP932 = Shift-JIS, CP949 = EUC-KR): per non-ASCII character, a weight
/// of 1 for the characters that make up most text (GB2312's first-level hanzi, Big5's frequent
/// hanzi, kana and JIS level-1 kanji, KS X 1001 Hangul), less for rarer or symbol codes, 0 for
/// codes outside the encoding. Adds the weights to `score` and the characters to `characters`;
/// false when the bytes are not valid in the encoding. GB2312's level-1 hanzi whose lead byte
/// is also a Hangul syllable's in EUC-KR (0xB0-0xC8) weigh 0.9: Korean text decodes as such
/// hanzi only, Chinese text spreads over the whole level (its pinyin order runs past 0xC8).
[[nodiscard]] bool plausibility(std::string_view text, std::string_view encoding, double& score,
                                std::size_t& characters);
/// The encodings `plausibility` knows, in the order ties are broken.
inline constexpr std::string_view kEastAsianEncodings[] = {"GB18030", "BIG5", "CP932", "CP949"};

/// The iconv name of a code page as .cpg files and users write it ("936", "GBK", "utf8", "1252").
/// GBK, GB2312 and CP936 become GB18030, their superset.
[[nodiscard]] std::string canonical_encoding(std::string_view name);

/// Converts text of one encoding to UTF-8. Throws ConfigError when iconv does not know it.
class Decoder {
public:
    explicit Decoder(const std::string& encoding);
    ~Decoder();
    Decoder(const Decoder&) = delete;
    Decoder& operator=(const Decoder&) = delete;

    [[nodiscard]] Decoded decode(std::string_view raw);
    [[nodiscard]] const std::string& encoding() const noexcept { return encoding_; }

private:
    std::string encoding_;
    bool utf8_ = false;
    iconv_t handle_ = reinterpret_cast<iconv_t>(-1);
};

}  // namespace civgrid::io::detail

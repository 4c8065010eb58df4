#include "text_encoding.hpp"

#include <civgrid/error.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>

namespace civgrid::io::detail {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the UTF-8 sequence starting at text[i]: > 0 when valid, 0 when invalid, < 0 (minus
// the bytes present) when the text ends inside an otherwise valid sequence.
int utf8_sequence(std::string_view text, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    if (lead < 0x80) return 1;
    int length = 0;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF)
        length = 2;
    else if (lead == 0xE0)
        length = 3, low = 0xA0;
    else if (lead >= 0xE1 && lead <= 0xEC)
        length = 3;
    else if (lead == 0xED)
        length = 3, high = 0x9F;
    else if (lead >= 0xEE && lead <= 0xEF)
        length = 3;
    else if (lead == 0xF0)
        length = 4, low = 0x90;
    else if (lead >= 0xF1 && lead <= 0xF3)
        length = 4;
    else if (lead == 0xF4)
        length = 4, high = 0x8F;
    else
        return 0;
    for (int k = 1; k < length; ++k) {
        if (i + static_cast<std::size_t>(k) >= text.size()) return -k;
        const unsigned char c = byte(i + static_cast<std::size_t>(k));
        if (k == 1 ? (c < low || c > high) : (c < 0x80 || c > 0xBF)) return 0;
    }
    return length;
}

Decoded repair_utf8(std::string_view raw) {
    Decoded out;
    out.text.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size();) {
        const int length = utf8_sequence(raw, i);
        if (length > 0) {
            out.text.append(raw.substr(i, static_cast<std::size_t>(length)));
            i += static_cast<std::size_t>(length);
        } else if (length < 0) {  // the field ends inside a character: it was cut, drop the part
            out.truncated = true;
            break;
        } else {
            out.text.append(kReplacement);
            out.invalid = true;
            ++i;
        }
    }
    return out;
}

}  // namespace

bool is_ascii(std::string_view text) noexcept {
    return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

bool is_utf8(std::string_view text, bool allow_cut_tail) {
    for (std::size_t i = 0; i < text.size();) {
        const int length = utf8_sequence(text, i);
        if (length > 0) {
            i += static_cast<std::size_t>(length);
            continue;
        }
        return length < 0 && allow_cut_tail;
    }
    return true;
}

bool plausibility(std::string_view text, std::string_view encoding, double& score, std::size_t& characters) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(text[k])); };
    for (std::size_t i = 0; i < text.size();) {
        const unsigned lead = byte(i);
        if (lead < 0x80) {
            ++i;
            continue;
        }
        ++characters;
        // A cut last character (a byte-limited field) counts as nothing, as the decoder drops it.
        const bool last = i + 1 >= text.size();
        const unsigned trail = last ? 0 : byte(i + 1);
        const unsigned code = lead << 8 | trail;
        double weight = 0;
        std::size_t length = 2;
        if (encoding == "GB18030") {
            if (lead == 0x80 || lead == 0xFF) return false;
            if (!last && trail >= 0x30 && trail <= 0x39) {
                length = 4;  // a four-byte GB18030 code: rare characters
            } else if (!last && (trail < 0x40 || trail == 0x7F || trail == 0xFF)) {
                return false;
            } else if (lead >= 0xB0 && lead <= 0xF7 && trail >= 0xA1) {
                weight = lead <= 0xC8 ? 0.9 : lead <= 0xD7 ? 1.0 : 0.6;  // GB2312 level 1, level 2
            } else if (lead >= 0xA1 && lead <= 0xA9 && trail >= 0xA1) {
                weight = 0.6;  // GB2312 symbols, kana, Cyrillic
            } else {
                weight = 0.2;  // GBK's extensions
            }
        } else if (encoding == "BIG5") {
            if (lead < 0xA1 || lead > 0xF9) return false;
            if (!last && !((trail >= 0x40 && trail <= 0x7E) || (trail >= 0xA1 && trail <= 0xFE))) return false;
            weight = code >= 0xA440 && code <= 0xC67E   ? 1.0   // frequent hanzi
                     : code >= 0xC940 && code <= 0xF9D5 ? 0.6   // less frequent hanzi
                     : code >= 0xA140 && code <= 0xA3BF ? 0.6   // symbols
                                                        : 0.1;  // reserved and user-defined
        } else if (encoding == "CP932") {
            if (lead >= 0xA1 && lead <= 0xDF) {
                length = 1;
                weight = 0.5;  // half-width katakana
            } else if ((lead >= 0x81 && lead <= 0x9F) || (lead >= 0xE0 && lead <= 0xFC)) {
                if (!last && !((trail >= 0x40 && trail <= 0x7E) || (trail >= 0x80 && trail <= 0xFC))) return false;
                weight = (code >= 0x829F && code <= 0x82F1) || (code >= 0x8340 && code <= 0x8396) ? 1.0  // kana
                         : code >= 0x889F && code <= 0x9872                                        ? 1.0  // JIS level 1
                         : code >= 0x989F && code <= 0xEAA4                                        ? 0.6  // level 2
                         : code >= 0x8140 && code <= 0x84BE                                        ? 0.6  // symbols
                                                                                                   : 0.1;
            } else {
                return false;
            }
        } else if (encoding == "CP949") {
            if (lead == 0x80 || lead == 0xFF || lead == 0xC9 || lead == 0xFE) return false;
            const bool ks = trail >= 0xA1 && trail <= 0xFE;
            if (!last && !(ks || (trail >= 0x41 && trail <= 0x5A) || (trail >= 0x61 && trail <= 0x7A) ||
                           (trail >= 0x81 && trail <= 0xA0)))
                return false;
            weight = lead >= 0xB0 && lead <= 0xC8 && ks   ? 1.0   // KS X 1001 Hangul syllables
                     : lead >= 0xA1 && lead <= 0xAF && ks ? 0.6   // symbols and jamo
                     : lead >= 0xCA && lead <= 0xFD && ks ? 0.3   // Hanja: rare in Korean text today
                                                          : 0.5;  // UHC's other Hangul syllables
        } else {
            return false;
        }
        if (!last) score += weight;
        i += length;
    }
    return true;
}

std::string canonical_encoding(std::string_view name) {
    std::string upper;
    for (char c : name)
        if (!std::isspace(static_cast<unsigned char>(c)))
            upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper == "UTF-8" || upper == "UTF8" || upper == "65001") return "UTF-8";
    if (upper == "GBK" || upper == "GB2312" || upper == "936" || upper == "CP936" || upper == "GB18030" ||
        upper == "54936" || upper == "EUC-CN")
        return "GB18030";
    if (upper == "BIG5" || upper == "950" || upper == "CP950") return "BIG5";
    if (upper == "SHIFT_JIS" || upper == "SHIFT-JIS" || upper == "SJIS" || upper == "932" || upper == "CP932" ||
        upper == "MS932" || upper == "WINDOWS-31J")
        return "CP932";
    if (upper == "EUC-KR" || upper == "EUCKR" || upper == "949" || upper == "CP949" || upper == "UHC") return "CP949";
    if (!upper.empty() &&
        std::all_of(upper.begin(), upper.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
        return "CP" + upper;                                          // a bare Windows code page number
    if (upper.rfind("ANSI_", 0) == 0) return "CP" + upper.substr(5);  // ESRI's "ANSI 1252"
    return upper;
}

Decoder::Decoder(const std::string& encoding) : encoding_(canonical_encoding(encoding)) {
    utf8_ = encoding_ == "UTF-8";
    if (utf8_) return;
    handle_ = iconv_open("UTF-8", encoding_.c_str());
    if (handle_ == reinterpret_cast<iconv_t>(-1))
        throw ConfigError("io.encoding", "unknown text encoding '" + encoding +
                                             "' (e.g. UTF-8, GB18030, GBK, BIG5, CP1252, ISO-8859-1)");
}

Decoder::~Decoder() {
    if (handle_ != reinterpret_cast<iconv_t>(-1)) iconv_close(handle_);
}

Decoded Decoder::decode(std::string_view raw) {
    if (utf8_ || is_ascii(raw)) return utf8_ ? repair_utf8(raw) : Decoded{std::string(raw), false, false};
    Decoded out;
    iconv(handle_, nullptr, nullptr, nullptr, nullptr);  // reset the shift state
    std::string input(raw);
    char* in = input.data();
    std::size_t in_left = input.size();
    std::string buffer(4 * input.size() + 16, '\0');
    char* out_ptr = buffer.data();
    std::size_t out_left = buffer.size();
    while (in_left > 0) {
        if (iconv(handle_, &in, &in_left, &out_ptr, &out_left) != static_cast<std::size_t>(-1)) break;
        if (errno == EINVAL) {  // ends inside a character: a byte-limited field cut it
            out.truncated = true;
            break;
        }
        if (errno == EILSEQ) {
            if (out_left < kReplacement.size()) break;
            std::copy(kReplacement.begin(), kReplacement.end(), out_ptr);
            out_ptr += kReplacement.size();
            out_left -= kReplacement.size();
            ++in;
            --in_left;
            out.invalid = true;
            continue;
        }
        break;  // E2BIG cannot happen with 4 bytes out per byte in
    }
    buffer.resize(buffer.size() - out_left);
    out.text = std::move(buffer);
    return out;
}

}  // namespace civgrid::io::detail

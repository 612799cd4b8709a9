#!/usr/bin/env python3
"""Golden fixture for the CLIP byte-level BPE tokenizer.

Writes tests/fixtures/clip/tokenizer_golden.json: a deterministic list of
varied strings (fixed seed) and, for each, the ids that OpenAI's reference
`SimpleTokenizer().encode(text)` gives -- the full BPE id list, without the
start/end tokens and without truncation (so it may be longer than 77).

Needs (a venv outside the repo is fine):
    python3 -m venv /work/venv-ref
    /work/venv-ref/bin/pip install torch torchvision transformers ftfy regex \
        clip-anytorch open_clip_torch "setuptools<81"
  - setuptools<81: clip-anytorch imports pkg_resources, gone from setuptools 81+.
  - clip-anytorch: OpenAI's CLIP code on PyPI (package `clip`), whose
    clip/simple_tokenizer.py and clip/bpe_simple_vocab_16e6.txt.gz are the
    reference; this is what the fixture is made with.
  - open_clip_torch and transformers (optional): cross-checks only.

Run from the repository root:
    /work/venv-ref/bin/python scripts/golden/make_tokenizer_golden.py

Texts that depend on ftfy's mojibake repair (fix_encoding and friends) are
left out: that repair is not something the Rust side reproduces. Everything
else ftfy.fix_text does (HTML entities, curly quotes, fullwidth letters,
ligatures, terminal escapes, control characters, NFC) stays in.
"""

import gzip
import importlib.metadata as md
import json
import os
import random
import sys
import unicodedata

import ftfy

SEED = 20210226  # CLIP's arXiv date
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "clip", "tokenizer_golden.json")

# ---------------------------------------------------------------------------
# The texts
# ---------------------------------------------------------------------------

COURSE_WORDS = ["man", "woman", "king", "queen", "prince", "princess", "monarch",
                "unreal engine", "boy", "girl", "royal", "crown", "throne"]
COLORS = ["red", "green", "blue", "yellow", "purple", "orange", "black", "white",
          "grey", "gray", "cyan", "magenta", "pink", "brown"]
SHAPES = ["circle", "square", "triangle", "star", "cross", "ring", "heart",
          "rectangle", "hexagon", "diamond"]
NOUNS = ["cat", "dog", "car", "tree", "house", "mountain", "river", "city",
         "portrait", "painting", "sculpture", "castle", "robot", "astronaut",
         "horse", "bicycle", "guitar", "apple", "banana", "teapot", "face",
         "sunset", "forest", "beach", "spaceship", "dragon", "wizard", "knight"]
ADJS = ["small", "large", "tiny", "huge", "old", "young", "happy", "sad",
        "beautiful", "ugly", "shiny", "dark", "bright", "blurry", "detailed",
        "photorealistic", "cinematic", "abstract", "minimalist", "vintage"]
RELATIONS = ["above", "below", "left of", "right of", "next to", "inside",
             "behind", "in front of", "on top of", "beside"]
TEMPLATES = [
    "a photo of a {a} {n}.", "a photo of a {c} {s}.", "a {c} {s} {r} a {c2} {s2}",
    "an image of a {n}", "a painting of a {a} {w}", "a {w} wearing a crown",
    "a portrait of a {w}, {a}, {c}", "{w} rendered in unreal engine",
    "a {a} {n} in the style of van gogh", "a close-up photo of the {n}",
    "there is a {c} {s} here", "the {w} and the {w2}", "a drawing of a {n}.",
    "a {c} {n} {r} a {c2} {n2}", "{w} - {w2} + {w3}", "itap of a {n}",
    "a bad photo of a {n}.", "a origami {n}.", "a photo of the large {n}.",
    "a {n} in a video game.", "art of the {n}.", "a photo of the small {n}.",
    "a sculpture of a {w}", "{a} {w}, trending on artstation, 4k, unreal engine",
]


def rand_caption(rng):
    t = rng.choice(TEMPLATES)
    return t.format(
        a=rng.choice(ADJS), n=rng.choice(NOUNS), n2=rng.choice(NOUNS),
        c=rng.choice(COLORS), c2=rng.choice(COLORS), s=rng.choice(SHAPES),
        s2=rng.choice(SHAPES), r=rng.choice(RELATIONS), w=rng.choice(COURSE_WORDS),
        w2=rng.choice(COURSE_WORDS), w3=rng.choice(COURSE_WORDS))


def mixed_case(rng, s):
    return "".join(ch.upper() if rng.random() < 0.5 else ch.lower() for ch in s)


# Unicode blocks to draw "byte-ish" random text from (inclusive ranges).
BLOCKS = [
    (0x0021, 0x007E),  # ASCII printable
    (0x00A1, 0x00FF),  # Latin-1 supplement
    (0x0100, 0x017F),  # Latin Extended-A
    (0x0180, 0x024F),  # Latin Extended-B
    (0x0250, 0x02AF),  # IPA
    (0x0300, 0x036F),  # combining diacritics
    (0x0370, 0x03FF),  # Greek
    (0x0400, 0x04FF),  # Cyrillic
    (0x0530, 0x058F),  # Armenian
    (0x0590, 0x05FF),  # Hebrew
    (0x0600, 0x06FF),  # Arabic
    (0x0900, 0x097F),  # Devanagari
    (0x0E00, 0x0E7F),  # Thai
    (0x10A0, 0x10FF),  # Georgian
    (0x1E00, 0x1EFF),  # Latin Extended Additional
    (0x2000, 0x206F),  # General punctuation
    (0x2070, 0x209F),  # super/subscripts
    (0x20A0, 0x20CF),  # currency
    (0x2100, 0x214F),  # letterlike
    (0x2150, 0x218F),  # number forms
    (0x2190, 0x21FF),  # arrows
    (0x2200, 0x22FF),  # math operators
    (0x2500, 0x257F),  # box drawing
    (0x2600, 0x26FF),  # misc symbols
    (0x3000, 0x303F),  # CJK punctuation
    (0x3040, 0x309F),  # Hiragana
    (0x30A0, 0x30FF),  # Katakana
    (0x4E00, 0x9FFF),  # CJK unified
    (0xAC00, 0xD7A3),  # Hangul syllables
    (0xFB00, 0xFB4F),  # alphabetic presentation forms (ligatures)
    (0xFF00, 0xFFEF),  # half/fullwidth forms
    (0x1D400, 0x1D7FF),  # mathematical alphanumerics
    (0x1F300, 0x1F5FF),  # pictographs
    (0x1F600, 0x1F64F),  # emoticons
    (0x1F900, 0x1F9FF),  # supplemental symbols
    (0x20000, 0x2A6DF),  # CJK extension B
]


def rand_char(rng, block=None):
    while True:
        lo, hi = block or rng.choice(BLOCKS)
        cp = rng.randint(lo, hi)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        if unicodedata.category(chr(cp)) in ("Cn", "Cs", "Co"):
            continue
        return chr(cp)


def rand_unicode(rng, n_blocks=2, length=None):
    blocks = [rng.choice(BLOCKS) for _ in range(n_blocks)]
    length = length or rng.randint(1, 24)
    out = []
    for _ in range(length):
        r = rng.random()
        if r < 0.15:
            out.append(" ")
        elif r < 0.2:
            out.append(rng.choice(["a", "e", "1", ".", "'", "-", "\t"]))
        else:
            out.append(rand_char(rng, rng.choice(blocks)))
    return "".join(out)


FIXED = {
    "numbers": [
        "0", "7", "42", "1234567890", "3.14159", "2,000,000", "1st 2nd 3rd 4th",
        "0x1F", "-42", "+7", "1e10", "10%", "$5.99", "€20", "£3", "¥1000",
        "12:30pm", "2021-02-26", "9/11", "1/2 cup", "½ ⅓ ¼ ¾", "x² + y³ = z¹",
        "Ⅰ Ⅱ Ⅲ Ⅳ Ⅻ", "①②③", "٠١٢٣٤٥٦٧٨٩", "१२३", "一二三", "３時", "𝟙𝟚𝟛",
        "route 66", "area51", "b2b", "mp3", "4k", "1080p", "covid19", "h2o",
        "007", "3d render", "ViT-B/32", "RN50x64", "v1.2.3-rc4", "1,000.5",
        "+1 (555) 123-4567", "iso 9001:2015", "2^10 = 1024", "99 bottles",
    ],
    "punctuation": [
        "!", "!!!", "...", "…", "?!?!", "--", "—", "–", "@#$%^&*()", "!@#",
        "a.b.c", "e.g.", "i.e.,", "hello,world", "hello , world", "(parens)",
        "[brackets]", "{braces}", "<angle>", "\"quoted\"", "'single'",
        "back\\slash", "for/slash", "under_score", "snake_case_name",
        "kebab-case-name", "CamelCase", "dot.separated.words", "#hashtag",
        "@mention", "http://example.com/path?q=1&r=2", "user@example.com",
        "~~~", "***", "===", "+++", "|||", "^^^", "``", "§¶†‡", "•◦‣",
        "¿qué?", "¡hola!", "«»", "‹›", "„“", "、。", "！？", "؟", "।",
        ":-)", ";-)", ":(", "<3", "¯\\_(ツ)_/¯", "(╯°□°)╯︵ ┻━┻", "->", "=>", "<=>",
    ],
    "contractions": [
        "it's", "don't", "we're", "i've", "i'm", "you'll", "he'd", "she's",
        "they're", "can't", "won't", "shouldn't've", "y'all", "o'clock",
        "rock'n'roll", "IT'S", "DON'T", "WE'RE", "I'VE", "I'M", "YOU'LL",
        "HE'D", "It'S", "iT's", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d",
        "'S", "'T", "'RE", "'VE", "'M", "'LL", "'D", "''", "'", "'''s",
        "the king's crown", "the queen's", "the princes' castle", "it ’s",
        "it’s", "don’t", "IT’S", "'sup", "'tis", "ma'am", "'dd", "'sss",
        "'lll", "'rex", "'ve'", "a'b'c'd", "'twas the night", "‘tis",
        "the 90's", "james's", "l'homme", "dell'arte", "o'neill's",
    ],
    "html": [
        "&amp;", "&lt;", "&gt;", "&#39;", "&quot;", "&#x27;", "&apos;",
        "rock &amp; roll", "a &lt; b", "&lt;b&gt;bold&lt;/b&gt;", "&amp;amp;",
        "&amp;amp;amp;", "&amp;amp;amp;amp;", "&amp;lt;", "&amp;#39;", "&nbsp;",
        "a&nbsp;b", "&eacute;t&eacute;", "&copy; 2021", "&euro;5", "&mdash;",
        "&hellip;", "&notanentity;", "&amp", "&lt", "AT&T", "&#8217;", "&#x2019;",
        "&#65;&#66;&#67;", "&#x1F600;", "&#0;", "&#128;", "&#x80;", "&#150;",
        "&#xD800;", "&#1114112;", "&AMP;", "&LT;", "&Eacute;", "&EACUTE;",
        "<b>bold</b> &amp; co", "<i>&amp;amp;</i>", "1 < 2 &amp;amp; 3",
        "&amp;amp;amp; first\n< second\n&amp;amp;amp; third",
        "&amp;amp;amp; first\nsecond &amp;amp;amp;", "first line\n<p>&amp;amp;amp;</p>",
        "&lt;&amp;amp;amp;&gt;", "&#38;amp;", "&#38;#38;", "&amp;#38;amp;",
        "tom &amp; jerry &lt;3", "fish &amp;&amp; chips", "&&", "&;", "&#;",
        "&#x;", "&#xZZ;", "&frac12;", "&sup2;", "&alpha;&beta;&Gamma;",
    ],
    "whitespace": [
        "", " ", "  ", "\t", "\n", "\r\n", " \t\n ", "a  b", "a\tb", "a\nb",
        "a\r\nb", "a\rb", "  leading", "trailing  ", "  both  ", "\tx\t",
        "a\u00a0b", "a\u2003b", "a\u3000b", "a\u200bb", "a\u2028b", "a\u2029b",
        "a\x0bb", "a\x0cb", "a\x1cb", "a\x1db", "a\x1eb", "a\x1fb", "a\x85b",
        "a\u1680b", "a\u2000b", "a\u200ab", "a\u202fb", "a\u205fb", "a\ufeffb",
        "\ufefflead bom", "a \n \t \r b", "one\n\ntwo\n\n\nthree",
        "a photo\tof a\ncat", "   a   photo   of   a   cat   ",
        "\n\n\na photo of a dog\n\n\n", "word\u00a0\u00a0word", "x\u180ey",
        "a\u2060b", "a\u00adb", "soft\u00adhy\u00adphen",
    ],
    "latin": [
        "café", "naïve", "Ångström", "Øresund", "façade", "Straße", "STRASSE",
        "ÀÉÎÕÜ", "àéîõü", "Łódź", "İstanbul", "ıi", "Kraków", "Dvořák",
        "smørrebrød", "crème brûlée", "jalapeño", "résumé", "coöperate",
        "Björk", "Señor Ñandú", "ẞ", "ǅ ǈ ǋ", "ĳ Ĳ", "œuvre Œ", "Æsir æ",
        "þorn Þ", "ð Ð", "Ħ ħ", "ŉ", "ſ", "ǰ", "ǲ", "ẞtraße", "ΣΊΣΥΦΟΣ",
        "Ǆemal", "ﬀ", "Việt Nam", "Tiếng Việt có dấu", "Ẁales",
        "Zürich über alles", "ça va", "Đorđe", "Šumava", "Ærøskøbing",
    ],
    "scripts": [
        "Καλημέρα κόσμε", "ΟΔΟΣ", "Οδυσσεύς", "ΑΒΓΔΕ αβγδε", "λόγος",
        "Привет, мир!", "МОСКВА", "ёжик Ёжик", "Україна ї є ґ", "Српски језик",
        "你好，世界", "一张猫的照片", "国王和王后", "中华人民共和国",
        "日本語のテキスト", "こんにちは", "カタカナ", "ｶﾀｶﾅ", "ﾊﾟﾝ",
        "한국어 텍스트", "안녕하세요", "각", "مرحبا بالعالم", "صورة قطة",
        "العربية", "שלום עולם", "עִבְרִית", "नमस्ते दुनिया", "हिन्दी",
        "สวัสดีชาวโลก", "ภาษาไทย", "ქართული", "Հայերեն", "አማርኛ",
        "தமிழ்", "ਪੰਜਾਬੀ", "বাংলা", "ລາວ", "မြန်မာ", "ខ្មែរ", "ᠮᠣᠩᠭᠣᠯ",
        "ᚠᚢᚦᚨᚱᚲ", "𐌰𐌱𐌲", "𓀀𓀁𓀂", "ꦗꦮ", "ⴰⵣⵓⵍ", "ᏣᎳᎩ",
        "a king 王 and a queen 女王", "la reine et le roi", "der König",
        "el príncipe y la princesa", "монарх", "μονάρχης", "君主",
    ],
    "emoji": [
        "😀", "😀😃😄", "a 🐱 cat", "👍", "👍🏻", "👍🏽", "👍🏿", "🧑‍🚀",
        "👨‍👩‍👧‍👦", "👩‍❤️‍💋‍👨", "🏳️‍🌈", "🏴‍☠️", "🇫🇷", "🇯🇵🇺🇸🇩🇪",
        "🇺🇳", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "1️⃣", "#️⃣", "*️⃣", "❤️", "❤", "♥️", "☺️",
        "✌🏾", "🤴 👸 👑", "🤴🏼", "👸🏿", "🔥🔥🔥", "💯", "🎉 party 🎉",
        "king👑", "👑king", "©️ ®️ ™️", "🀄", "🃏", "🆗", "🈶", "🧑🏽‍🦰",
        "👨🏻‍💻", "🐈‍⬛", "😶‍🌫️", "❤️‍🔥", "🫠", "🫶🏼", "🦄🌈",
    ],
    "combining": [
        "e\u0301", "a\u030a", "n\u0303", "u\u0308ber", "cafe\u0301",
        "Ame\u0301lie", "A\u030angstro\u0308m", "\u0301", "\u0301\u0302\u0303",
        "q\u0307\u0323", "i\u0307", "Z\u0324\u0354\u0367\u0311\u0313a\u0308"
        "\u0356\u032d\u0308\u0307l\u036e\u0312\u036bg\u030c\u0317\u035a\u031a"
        "o\u0319\u0314\u036e\u0307\u0350\u0307", "x\u20dd", "1\u20e3",
        "\u1100\u1161\u11a8", "\u0915\u094d\u0937", "s\u0323\u0307",
        "a\u0328\u0301", "\u05e9\u05c1\u05b8", "\u0627\u064b",
    ],
    "fullwidth": [
        "ＡＢＣ", "ｆｕｌｌｗｉｄｔｈ", "１２３", "Ｈｅｌｌｏ，　Ｗｏｒｌｄ！",
        "ａ ｐｈｏｔｏ ｏｆ ａ ｃａｔ", "ＫＩＮＧ ＱＵＥＥＮ", "（括弧）",
        "［ｘ］", "＄１００", "＠ｈａｎｄｌｅ", "ｉｔ＇ｓ", "ＤＯＮ＇Ｔ",
        "＂ｑｕｏｔｅｄ＂", "ｰ", "ﾞﾟ", "ｶﾞｷﾞ", "ﾟ", "￥５００", "￠￡￢",
        "＜ｔａｇ＞", "＆ａｍｐ；", "～", "　lead ideographic space",
    ],
    "quotes": [
        "“hello”", "‘world’", "„German“", "«guillemets»", "‹single›",
        "“a photo of a cat.”", "don’t", "rock ’n’ roll", "‛reversed‟",
        "‚low‘", "″double prime″", "′prime′", "`backtick`", "´acute´",
        "「かぎ」", "『二重』", "❝heavy❞", "❛heavy❜", "〝ds〞", "＂fw＂",
        "“nested ‘quotes’ here”", "it‘s", "IT’S A KING’S CROWN",
    ],
    "ligatures": [
        "ﬁnance", "ﬂower", "ﬀ", "ﬃ", "ﬄ", "ﬅ", "ﬆ", "oﬃce", "ﬁ ﬂ ﬀ ﬃ ﬄ ﬅ ﬆ",
        "ǆ", "Ǉ ǈ ǉ", "Ǌ ǋ ǌ", "ĳssel", "æ", "œ", "ꜳ", "ᵫ", "ﬓ", "ﬗ",
        "ＯＦＦＩＣＥ ﬁ", "THE ﬁRST", "Ｆｉ ﬁ fi",
    ],
    "special": [
        "<|startoftext|>", "<|endoftext|>", "a<|endoftext|>b",
        "<|STARTOFTEXT|>", "<|EndOfText|>", "<|endoftext|", "|endoftext|>",
        "<|startoftext|>a photo<|endoftext|>", "<| endoftext |>",
        "<|endoftext|><|endoftext|>", "<|pad|>", "</w>", "a</w>", "<unk>",
    ],
    "controls": [
        "\x00", "a\x00b", "a\x07b", "\x1b[31mred\x1b[0m", "\x1b[1;32mbold green\x1b[0m text",
        "a\x7fb", "a\x08b", "bell\x07", "a\x01\x02\x03b", "\ufffd", "a\ufffdb",
        "\u200d", "a\u200cb", "a\u200eb\u200f", "\u202eevil\u202c", "a\u2066b\u2069",
        "x\ufe0fy", "\U000e0041", "a\ufff9b\ufffbc", "\x1b", "a\x1b[b", "\u0000\u0000",
        "tab\x09tab", "\x1b]0;title\x07text",
    ],
    "long_words": [
        "pneumonoultramicroscopicsilicovolcanoconiosis",
        "supercalifragilisticexpialidocious",
        "Donaudampfschifffahrtsgesellschaftskapitän",
        "llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch",
        "a" * 100, "ab" * 80, "xyz" * 70, "1" * 60, "!" * 90, "." * 75,
        "😀" * 30, "王" * 50, "é" * 40, "k" * 300, "antidisestablishmentarianism" * 4,
        "thequickbrownfoxjumpsoverthelazydog" * 3, "-" * 120, "&amp;" * 25,
    ],
}


def long_text(rng, n_words):
    pool = (COURSE_WORDS + COLORS + SHAPES + NOUNS + ADJS
            + ["the", "a", "of", "and", "in", "on", "with", "is", "was", "it's",
               "don't", "they're", "1984", "42", "3.5", ",", ".", "!", "?", "—",
               "café", "naïve", "Привет", "你好", "😀", "👑", "“quoted”", "&amp;",
               "ﬁne", "ＦＵＬＬ", "e\u0301", "\t", "\n"])
    words = []
    for _ in range(n_words):
        w = rng.choice(pool)
        if rng.random() < 0.1:
            w = w.upper()
        elif rng.random() < 0.1:
            w = w.capitalize()
        words.append(w)
        if rng.random() < 0.05:
            words.append(rand_unicode(rng, 1, rng.randint(1, 6)))
    seps = [" ", " ", " ", " ", "  ", "\n", ", "]
    return "".join(w + rng.choice(seps) for w in words).strip()


def build_texts():
    rng = random.Random(SEED)
    texts = []
    # Plain captions and the course's words.
    texts += COURSE_WORDS + [w.upper() for w in COURSE_WORDS] + [w.title() for w in COURSE_WORDS]
    texts += ["a photo of a red circle.", "a photo of a man", "a photo of a woman",
              "a photo of a king", "a photo of a queen", "a photo of a prince",
              "a photo of a princess", "a photo of a monarch", "unreal engine",
              "Unreal Engine 5", "UNREAL ENGINE", "king - man + woman = queen",
              "a red circle above a blue square", "a blue circle above a red square"]
    captions = [rand_caption(rng) for _ in range(260)]
    texts += captions
    # Upper / title / mixed case.
    for c in captions[:120]:
        texts.append(rng.choice([c.upper(), c.title(), mixed_case(rng, c), c.capitalize()]))
    # Fixed categories, plus case variants of some.
    for name, items in FIXED.items():
        texts += items
        if name in ("contractions", "latin", "scripts", "html", "quotes", "ligatures"):
            texts += [s.upper() for s in items[::3]]
    # NFC vs NFD forms of accented / composed text.
    for s in FIXED["latin"] + FIXED["scripts"][:20] + ["한국어", "가각간", "Ǻǻ", "ḱṷṓn"]:
        for form in ("NFD", "NFKC", "NFKD"):
            t = unicodedata.normalize(form, s)
            if t != s:
                texts.append(t)
    # Random byte-ish unicode from several blocks.
    for _ in range(260):
        texts.append(rand_unicode(rng, rng.randint(1, 3)))
    # Numbers with random digits, punctuation runs.
    for _ in range(40):
        texts.append(" ".join(str(rng.randint(0, 10 ** rng.randint(1, 12))) for _ in range(rng.randint(1, 4))))
    punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~…—–·•¡¿«»“”‘’„‹›§¶"
    for _ in range(40):
        texts.append("".join(rng.choice(punct) for _ in range(rng.randint(1, 12))))
    # Random whitespace sprinkled into captions.
    ws = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2003", "\x0b", "\x0c"]
    for c in captions[120:200]:
        words = c.split(" ")
        texts.append(rng.choice(["", " ", "\t", "\n"]) + "".join(w + rng.choice(ws) for w in words))
    # Mash-ups of fragments from everything above.
    frags = [s for items in FIXED.values() for s in items] + captions
    for _ in range(220):
        k = rng.randint(2, 5)
        texts.append(rng.choice([" ", "", "\n", ", "]).join(rng.choice(frags) for _ in range(k)))
    # Over-long texts (several hundred words).
    for _ in range(20):
        texts.append(long_text(rng, rng.randint(150, 700)))

    # De-duplicate, keeping the first occurrence.
    seen, unique = set(), []
    for t in texts:
        if t not in seen:
            seen.add(t)
            unique.append(t)
    return unique


def needs_mojibake_repair(text):
    """True where ftfy's encoding repair (which we do not reproduce) matters."""
    off = dict(fix_encoding=False, restore_byte_a0=False, replace_lossy_sequences=False,
               decode_inconsistent_utf8=False, fix_c1_controls=False)
    return ftfy.fix_text(text) != ftfy.fix_text(text, **off)


# ---------------------------------------------------------------------------
# Cross-checks
# ---------------------------------------------------------------------------

def hf_tokenizer(bpe_path):
    """transformers' CLIPTokenizer built from the same gz, as the conversion does."""
    from clip.simple_tokenizer import bytes_to_unicode
    from transformers import CLIPTokenizer

    merges = gzip.open(bpe_path).read().decode("utf-8").split("\n")
    merges = merges[1:49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={v: i for i, v in enumerate(vocab)}, merges=merges)


def main():
    from clip.simple_tokenizer import SimpleTokenizer, default_bpe

    ref = SimpleTokenizer()
    texts = build_texts()
    kept, dropped = [], []
    for t in texts:
        (dropped if needs_mojibake_repair(t) else kept).append(t)
    cases = [{"text": t, "ids": ref.encode(t)} for t in kept]

    source = "clip-anytorch=={} (clip/simple_tokenizer.py), ftfy=={}, regex=={}".format(
        md.version("clip-anytorch"), md.version("ftfy"), md.version("regex"))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write('{"source": %s, "seed": %d, "start": 49406, "end": 49407, "context_length": 77,\n'
                % (json.dumps(source), SEED))
        f.write(' "cases": [\n')
        for i, c in enumerate(cases):
            f.write(json.dumps(c, ensure_ascii=False) + (",\n" if i + 1 < len(cases) else "\n"))
        f.write(" ]}\n")

    lens = [len(c["ids"]) for c in cases]
    print(f"wrote {OUT}: {len(cases)} cases, {os.path.getsize(OUT)} bytes; "
          f"dropped {len(dropped)} needing mojibake repair")
    for t in dropped:
        print("  dropped:", ascii(t)[:80])
    print(f"ids per case: max {max(lens)}, empty {lens.count(0)}, over 75: {sum(l > 75 for l in lens)}")

    # Cross-check 1: open_clip's SimpleTokenizer (same vocabulary).
    try:
        from open_clip.tokenizer import SimpleTokenizer as OpenClipTokenizer
        oc = OpenClipTokenizer()
        agree = sum(oc.encode(c["text"]) == c["ids"] for c in cases)
        print(f"open_clip_torch=={md.version('open_clip_torch')} SimpleTokenizer agrees on {agree}/{len(cases)}")
    except Exception as e:  # pragma: no cover
        print("open_clip cross-check skipped:", e)

    # Cross-check 2: transformers' CLIPTokenizer built from the same gz.
    try:
        hf = hf_tokenizer(default_bpe())
        disagree = []
        for c in cases:
            ids = hf(c["text"], add_special_tokens=False)["input_ids"]
            if ids != c["ids"]:
                disagree.append(c["text"])
        print(f"transformers=={md.version('transformers')} CLIPTokenizer agrees on "
              f"{len(cases) - len(disagree)}/{len(cases)}")
        for t in disagree[:40]:
            print("  differs:", ascii(t)[:80])
    except Exception as e:  # pragma: no cover
        print("transformers cross-check skipped:", e)


if __name__ == "__main__":
    sys.exit(main())

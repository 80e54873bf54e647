"""What a text may be: valid Unicode, and no longer than a character limit where texts are cut.

The limit protects batch commands from a single huge row (tokenising 50 MB of text takes minutes
and gigabytes, and the model reads at most ``model.max_length`` tokens per window anyway: the
first ones under ``truncate``, the head and tail of the *cut* text under ``head_tail``, at most 16
windows under ``chunks``). The service uses the same number as its default ``max_chars``, where a
longer text is refused instead of cut.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from mindscreen.data.errors import describe_rows

logger = logging.getLogger(__name__)

MAX_CHARS = 5_000
"""Characters of a text that batch commands read (``--max-chars``) and the service accepts."""

# A lone UTF-16 surrogate: half of a character, from broken UTF-16 handling or CESU-8 bytes. It is
# not valid Unicode, cannot be encoded as UTF-8, and tokenizers refuse it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone UTF-16 surrogate (so it cannot be encoded as UTF-8)."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def cut_texts(texts: Sequence[str], max_chars: int = MAX_CHARS) -> tuple[list[str], list[int]]:
    """Cut every text to its first ``max_chars`` characters.

    Args:
        texts: the texts, in order.
        max_chars: characters kept per text.

    Returns:
        ``(texts, cut)``: the texts, and the 0-based positions of those that were cut.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, found {max_chars}")
    cut = [i for i, text in enumerate(texts) if len(text) > max_chars]
    kept = list(texts)
    for i in cut:
        kept[i] = kept[i][:max_chars]
    return kept, cut


def warn_cut(source: str, cut: Sequence[int], total: int, max_chars: int) -> None:
    """Log (as a warning, shown by every command) how many texts :func:`cut_texts` cut, by row."""
    if cut:
        logger.warning(
            "%s: %d of %d texts are longer than %d characters; only their first %d were read (%s). "
            "Raise the limit (--max-chars) to read more",
            source,
            len(cut),
            total,
            max_chars,
            max_chars,
            describe_rows(cut),
        )

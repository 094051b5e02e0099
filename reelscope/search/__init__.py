"""Search over the whole archive: structured filters and free text, ranked shots and frames.

    from reelscope.search import SearchQuery, search
    search(archive, "close-up of Anna smiling")

Search sits above the archive: it reads the archive's tables; the archive never imports it.
Modules: ``query`` (SearchQuery, search: filters, SQL and ranking), ``parse`` (free text ->
filters and concepts), ``vocab`` (the words search understands, label embeddings) and
``evidence`` (what matched in each shot, and the hit it becomes). The text sources that phrases
are looked up in (words said and written) register in ``reelscope.archive.search_text``, in the
archive layer, so that stored stages can add theirs.
"""
from __future__ import annotations

import sys
import types

from reelscope.search.query import MAX_LIMIT, SearchQuery, SearchResult, search

__all__ = ["MAX_LIMIT", "SearchQuery", "SearchResult", "search"]


class _CallableModule(types.ModuleType):
    """Importing this package makes it the ``reelscope.search`` attribute, where the library
    offers the function ``reelscope.search(archive, query)``: calling the package runs it."""

    def __call__(self, archive, query, limit: int = 50, offset: int = 0) -> SearchResult:
        return search(archive, query, limit=limit, offset=offset)


sys.modules[__name__].__class__ = _CallableModule

"""Skills from the markdown journal, as the original buildlog generates them.

The original turns the ``## Improvements`` sections of ``buildlog/YYYY-MM-DD-*.md`` entries
into skills with stable ids (``arch-7032b98afe``), merges near-duplicate insights, rates
them and prints them in five formats. This sub-package ports that logic (the default
``token`` similarity only; no LLM, no embedding models) so that ``buildlog status``,
``diff`` and ``skills`` print what the original prints for the same journal and the same
decisions in the database.

One module per concern, top-down: :mod:`~buildlog.journal.review` (status and diff over the
stored decisions) -> :mod:`~buildlog.journal.skills` (generation) -> :mod:`.entries`
(discovery and parsing), :mod:`.similarity` (dedup), :mod:`.confidence`;
:mod:`.formats` prints a skill set.
"""
